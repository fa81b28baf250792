/*
Copyright The kube-checkpoint Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package checkpoint

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/component-base/metrics/testutil"

	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// TestCheckpointBusyNode fills the node's one place (the server runs with
// --checkpoint-max-inflight-per-node=1) and expects 429 with Retry-After for
// another pod of the node, and 409 for the same container.
func TestCheckpointBusyNode(t *testing.T) {
	before := serverMetrics(t)
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	createPod(t, ns, singlePod("other", nodeName))
	entered, release := make(chan struct{}, 1), make(chan struct{})
	kubelet.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		kubeletArchive(w, r)
	})
	first := make(chan error, 1)
	go func() {
		_, err := checkpoint(server.Admin, ns, "web", nil)
		first <- err
	}()
	<-entered

	post := func(pod string) (*http.Response, metav1.Status) {
		return rawRequest(t, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods/"+pod+"/checkpoint")
	}
	// Another pod of the node waits --checkpoint-inflight-wait for a place.
	resp, status := post("other")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		!strings.Contains(status.Message, "node node1 already has 1 checkpoints in flight") || !strings.Contains(status.Message, "none ended within 2s") {
		t.Errorf("another pod: got %d Retry-After %q %s\nwant 429 Retry-After 1 naming the bound and the wait", resp.StatusCode, resp.Header.Get("Retry-After"), status.Message)
	}
	resp, status = post("web")
	if resp.StatusCode != http.StatusConflict || !strings.HasPrefix(status.Message, `Operation cannot be fulfilled on pods/checkpoint "web": a checkpoint of container app is already in progress (served by `) ||
		!strings.HasSuffix(status.Message, "): its archive would be overwritten") {
		t.Errorf("the same container: got %d %s\nwant 409 naming the container, who serves it, and the archive", resp.StatusCode, status.Message)
	}
	// One that waits gets the place as soon as it is given back.
	waiting := make(chan *http.Response, 1)
	go func() {
		resp, _ := post("other")
		waiting <- resp
	}()
	close(release)
	if err := <-first; err != nil {
		t.Fatalf("the checkpoint holding the place: %v", err)
	}
	if resp := <-waiting; resp.StatusCode != http.StatusOK {
		t.Errorf("the checkpoint that waited for a place: got %d, want 200", resp.StatusCode)
	}
	expectMetricGrowth(t, before, serverMetrics(t), "apiserver_pod_checkpoint_refused_total", map[string]int64{"429": 1, "409": 1})
	kubelet.SetHandler(kubeletArchive)
	if _, err := checkpoint(server.Admin, ns, "web", nil); err != nil {
		t.Fatalf("after the place was given back: %v", err)
	}
}

// TestCheckpointEventsAndMetrics expects an Event on the pod for every
// checkpoint the kubelet was asked for, and the outcome in /metrics.
func TestCheckpointEventsAndMetrics(t *testing.T) {
	waitForNoClaims(t) // those of the tests before given back
	before := serverMetrics(t)
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	kubelet.SetHandler(kubeletArchive)
	if _, err := checkpoint(server.Admin, ns, "web", nil); err != nil {
		t.Fatal(err)
	}
	kubelet.SetHandler(kubeletAnswers(500, "checkpointing of ns/web/app failed (criu failed)"))
	if _, err := checkpoint(server.Admin, ns, "web", nil); err == nil {
		t.Fatal("want the failed checkpoint to fail")
	}

	want := []string{
		fmt.Sprintf("Normal Checkpointed Checkpointed container app on node node1: /var/lib/kubelet/checkpoints/checkpoint-web_%s-app-2026-11-27T03:00:00Z.tar", ns),
		"Warning CheckpointFailed Checkpoint of container app on node node1 failed: Internal error occurred: the container runtime of node node1 could not checkpoint container app (kubelet HTTP 500): checkpointing of ns/web/app failed (criu failed)",
	}
	var got []string
	err := wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", "web").String()})
		if err != nil {
			return false, err
		}
		got = nil
		for _, e := range events.Items {
			if e.Source.Component != "kube-apiserver" || e.InvolvedObject.Kind != "Pod" {
				continue
			}
			got = append(got, e.Type+" "+e.Reason+" "+e.Message)
		}
		return len(got) >= len(want), nil
	})
	if err != nil || strings.Join(sorted(got), "\n") != strings.Join(sorted(want), "\n") {
		t.Errorf("events (%v):\n%s\nwant:\n%s", err, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	waitForNoClaims(t) // both checkpoints given back: the node's claim deleted
	after := serverMetrics(t)
	expectMetricGrowth(t, before, after, "apiserver_pod_checkpoint_requests_total", map[string]int64{"200": 1, "500": 1})
	expectMetricGrowth(t, before, after, "apiserver_pod_checkpoint_duration_seconds_count", map[string]int64{"200": 1, "500": 1})
	// The claims are written through the apiserver's storage, not its API,
	// and counted: each checkpoint adds itself, writes its end and is taken
	// out, at most three writes (the second may find the first still listed,
	// and take it out with its own write).
	writes := leaseWritesGrowth(before, after, testutils.ClaimWritesMetric)
	if total := writes["POST 201"] + writes["PUT 200"] + writes["DELETE 200"]; writes["POST 201"] < 1 || writes["DELETE 200"] < 1 || total < 4 || total > 6 {
		t.Errorf("claim writes of two checkpoints one after the other: %v, want 4 to 6 with a POST 201 and a DELETE 200", writes)
	}
	if api := leaseWritesGrowth(before, after, "apiserver_request_total"); api["POST 201"]+api["DELETE 200"] != 0 {
		t.Errorf("Leases created or deleted through the API meanwhile: %v, want none (the identity Lease is only renewed)", api)
	}
}

// waitForNoClaims waits until no node has a claim.
func waitForNoClaims(t *testing.T) {
	t.Helper()
	var names []string
	if err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		names, err = testutils.ClaimNames(ctx, admin)
		return len(names) == 0, err
	}); err != nil {
		t.Fatalf("claims %v still there: %v", names, err)
	}
}

// leaseWritesGrowth is how much the Lease writes the series of name count
// grew between two readings, by verb and code.
func leaseWritesGrowth(before, after testutil.Metrics, name string) map[string]float64 {
	growth := map[string]float64{}
	testutils.AddLeaseWrites(after, name, 1, growth)
	testutils.AddLeaseWrites(before, name, -1, growth)
	return growth
}

// serverMetrics reads the server's /metrics.
func serverMetrics(t *testing.T) testutil.Metrics {
	t.Helper()
	raw, err := admin.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	metrics := testutil.NewMetrics()
	if err := testutil.ParseMetrics(string(raw), &metrics); err != nil {
		t.Fatal(err)
	}
	return metrics
}

// expectMetricGrowth checks that the series of name with each code grew by
// exactly the given count between two readings (tests run one at a time).
func expectMetricGrowth(t *testing.T, before, after testutil.Metrics, name string, want map[string]int64) {
	t.Helper()
	was, is := testutil.GetMetricValuesForLabel(before, name, "code"), testutil.GetMetricValuesForLabel(after, name, "code")
	for code, n := range want {
		if got := is[code] - was[code]; got != n {
			t.Errorf("%s{code=%q} grew by %d, want %d", name, code, got, n)
		}
	}
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
