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
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
)

// TestCheckpointProtectsTheNode: what a client sees of each protection of
// the node, refused before the kubelet stand-in is asked, counted by code and
// left on the pod as a CheckpointRefused Event.
func TestCheckpointProtectsTheNode(t *testing.T) {
	ctx := context.Background()
	const pressured = "pressured"
	if err := framework.RegisterNode(ctx, admin, pressured, kubelet.Port); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.CoreV1().Nodes().Delete(context.Background(), pressured, metav1.DeleteOptions{}) })
	node, err := admin.CoreV1().Nodes().Get(ctx, pressured, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	since := metav1.NewTime(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC))
	node.Status.Conditions = append(node.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeDiskPressure, Status: corev1.ConditionTrue,
		Reason: "KubeletHasDiskPressure", Message: "kubelet has disk pressure", LastHeartbeatTime: since, LastTransitionTime: since})
	if _, err := admin.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// The apiserver reads nodes from its watch cache, as a client does at
	// resourceVersion 0.
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		n, err := admin.CoreV1().Nodes().Get(ctx, pressured, metav1.GetOptions{ResourceVersion: "0"})
		return err == nil && len(n.Status.Conditions) == 2, err
	}); err != nil {
		t.Fatalf("the watch cache never saw the pressure: %v", err)
	}

	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", pressured))
	long := strings.Repeat("p", 200)
	longPod := singlePod(long, nodeName)
	longPod.order, longPod.containers = []string{strings.Repeat("c", 63)}, map[string]corev1.ContainerState{strings.Repeat("c", 63): running}
	createPod(t, ns, longPod)
	kubelet.SetHandler(kubeletArchive)
	kubelet.Requests()
	before := serverMetrics(t)

	// DiskPressure: 503 with Retry-After, read without client-go's retries
	// (it waits out a Retry-After and asks again).
	resp, body := send(t, server, "POST", fmt.Sprintf("/api/v1/namespaces/%s/pods/web/checkpoint", ns), "")
	var status metav1.Status
	_ = json.Unmarshal(body, &status)
	wantPressure := "node pressured reports DiskPressure=True (KubeletHasDiskPressure: kubelet has disk pressure, since 2026-12-01T09:30:00Z): kube-apiserver checkpoints no container on a node in that condition (--checkpoint-refuse-node-conditions), and nothing was asked of the node; retry once the condition has cleared"
	if resp.StatusCode != 503 || status.Reason != metav1.StatusReasonServiceUnavailable || status.Message != wantPressure || resp.Header.Get("Retry-After") != "10" {
		t.Errorf("a pressured node: got %d %s %q Retry-After %q\nwant 503 ServiceUnavailable %q Retry-After 10", resp.StatusCode, status.Reason, status.Message, resp.Header.Get("Retry-After"), wantPressure)
	}

	// A name the kubelet could not give its archive: 400, nothing frozen.
	code, err := checkpointQuery(t, server.Admin, ns, long, "container="+strings.Repeat("c", 63))
	wantName := fmt.Sprintf("cannot be checkpointed: the kubelet names its archive checkpoint-<pod>_<namespace>-<container>-<time>.tar, which would be %d bytes long, and a file name may have at most 255; the pod's name (200 bytes), namespace (%d) and container name (63) add up to %d bytes, and at most 217 fit: shorten them by %d",
		38+200+len(ns)+63, len(ns), 263+len(ns), 263+len(ns)-217)
	expectRefusal(t, code, err, 400, wantName)

	if requests := kubelet.Requests(); len(requests) != 0 {
		t.Errorf("the kubelet was asked %+v", requests)
	}
	after := serverMetrics(t)
	expectMetricGrowth(t, before, after, "apiserver_pod_checkpoint_refused_total", map[string]int64{"503": 1, "400": 1})
	expectMetricGrowth(t, before, after, "apiserver_pod_checkpoint_requests_total", map[string]int64{"503": 0, "400": 0})

	for pod, words := range map[string]string{"web": wantPressure, long: wantName} {
		var got []string
		err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			events, err := admin.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("involvedObject.name", pod).String()})
			if err != nil {
				return false, err
			}
			got = nil
			for _, e := range events.Items {
				got = append(got, e.Type+" "+e.Reason+" "+e.Message)
			}
			return len(got) > 0, nil
		})
		if err != nil || len(got) != 1 || !strings.HasPrefix(got[0], "Warning CheckpointRefused Checkpoint of container ") || !strings.Contains(got[0], "refused before the node was asked to checkpoint it: ") || !strings.Contains(got[0], words) {
			t.Errorf("events of %s (%v): %q, want one CheckpointRefused Event with %q", pod, err, got, words)
		}
	}
}

// TestCheckpointDiskReserve: the kubelet stand-in's summary decides. A full
// disk is refused with 507 and the kubelet never asked to checkpoint; a
// summary that is slow, missing, malformed, redirected or huge lets the
// checkpoint go ahead, the slow one after the summary's timeout at most.
func TestCheckpointDiskReserve(t *testing.T) {
	ns := newNamespace(t)
	// Each case checkpoints a pod of its own, which the apiserver's
	// summary of the node (kept for 10 s) does not know yet: each asks.
	var pod *corev1.Pod
	summary := func(available, capacity, rss uint64) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, `{"node":{"nodeName":%q,"fs":{"availableBytes":%d,"capacityBytes":%d}},"pods":[{"podRef":{"name":%q,"namespace":%q,"uid":%q},"containers":[{"name":"app","memory":{"rssBytes":%d}}]}]}`,
				nodeName, available, capacity, pod.Name, ns, pod.UID, rss)
		}
	}
	const gi = 1 << 30
	t.Cleanup(func() { kubelet.SetSummary(nil) })
	for _, tc := range []struct {
		name    string
		summary http.HandlerFunc
		code    int
		words   []string
	}{
		{name: "fits", summary: summary(50*gi, 100*gi, gi)},
		{name: "full", summary: summary(16*gi, 100*gi, 2*gi), code: 507, words: []string{
			fmt.Sprintf("the archive of container app of pod %s/web-full would not fit on node node1: it is estimated at 2.0Gi", ns),
			"has 16.0Gi free of 100.0Gi, and kube-apiserver keeps 15.0Gi of it free (--checkpoint-node-disk-reserve=15%)"}},
		{name: "missing"},
		{name: "malformed", summary: kubeletAnswers(200, `{"node":{"fs":`)},
		{name: "redirected", summary: func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://127.0.0.2:1/stats/summary", http.StatusFound)
		}},
		{name: "huge", summary: func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"node":{"nodeName":"` + strings.Repeat("n", 17<<20) + `"}}`))
		}},
		{name: "slow", summary: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod = createPod(t, ns, singlePod("web-"+strings.ReplaceAll(tc.name, " ", "-"), nodeName))
			kubelet.SetSummary(tc.summary)
			kubelet.SetHandler(kubeletArchive)
			kubelet.Requests()
			kubelet.Summaries()
			start := time.Now()
			code, err := checkpointQuery(t, server.Admin, ns, pod.Name, "")
			took := time.Since(start)
			if kubelet.Summaries() != 1 {
				t.Errorf("the summary was not asked for once")
			}
			if tc.code != 0 {
				expectRefusal(t, code, err, tc.code, tc.words...)
				if requests := kubelet.Requests(); len(requests) != 0 {
					t.Errorf("the kubelet was asked %+v", requests)
				}
				return
			}
			if err != nil || len(kubelet.Requests()) != 1 {
				t.Fatalf("got %d %v, want the checkpoint taken", code, err)
			}
			if took > 4*time.Second {
				t.Errorf("took %s, want at most the summary's 2 s and the checkpoint", took)
			}
		})
	}
}
