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

package rest

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/testutil"
	api "k8s.io/kubernetes/pkg/apis/core"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

// TestCheckpointProtectsTheNode: each protection refuses before the kubelet
// is asked, with its own code and message, counts the refusal with that code
// and tells the pod's owners with a Warning Event naming the protection.
func TestCheckpointProtectsTheNode(t *testing.T) {
	since := metav1.NewTime(time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC))
	defaults, err := ParseNodeConditions(DefaultRefuseNodeConditions)
	if err != nil {
		t.Fatal(err)
	}
	condition := func(typ api.NodeConditionType, status api.ConditionStatus, reason, message string) api.NodeCondition {
		return api.NodeCondition{Type: typ, Status: status, Reason: reason, Message: message, LastTransitionTime: since}
	}
	ready := condition(api.NodeReady, api.ConditionTrue, "KubeletReady", "kubelet is posting ready status")
	diskFree := condition(api.NodeDiskPressure, api.ConditionFalse, "KubeletHasNoDiskPressure", "kubelet has no disk pressure")
	// A pod whose name, namespace and container add up to 217 bytes, the
	// most an archive name of 255 bytes holds.
	longest := strings.Repeat("p", 217-len("default")-len("app"))
	for _, tc := range []struct {
		name       string
		pod        string
		conditions []api.NodeCondition
		refuse     []NodeCondition
		code       int32
		message    string
		event      string
	}{
		{name: "a ready node without pressure", pod: "web", conditions: []api.NodeCondition{ready, diskFree}, refuse: defaults},
		{name: "the longest name that fits", pod: longest, conditions: []api.NodeCondition{ready}, refuse: defaults},
		{name: "disk pressure", pod: "web", refuse: defaults, code: 503,
			conditions: []api.NodeCondition{ready, condition(api.NodeDiskPressure, api.ConditionTrue, "KubeletHasDiskPressure", "kubelet has disk pressure")},
			message:    "node node1 reports DiskPressure=True (KubeletHasDiskPressure: kubelet has disk pressure, since 2026-12-01T09:30:00Z): kube-apiserver checkpoints no container on a node in that condition (--checkpoint-refuse-node-conditions), and nothing was asked of the node; retry once the condition has cleared"},
		{name: "not ready", pod: "web", refuse: defaults, code: 503,
			conditions: []api.NodeCondition{condition(api.NodeReady, api.ConditionFalse, "KubeletNotReady", "container runtime is down")},
			message:    "node node1 reports Ready=False (KubeletNotReady: container runtime is down, since 2026-12-01T09:30:00Z)"},
		{name: "kubelet stopped posting", pod: "web", refuse: defaults, code: 503,
			conditions: []api.NodeCondition{condition(api.NodeReady, api.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status.")},
			message:    "node node1 reports Ready=Unknown (NodeStatusUnknown: Kubelet stopped posting node status., since 2026-12-01T09:30:00Z)"},
		{name: "a condition the flag does not name", pod: "web", refuse: []NodeCondition{{Type: api.NodeDiskPressure, Status: api.ConditionTrue}},
			conditions: []api.NodeCondition{condition(api.NodeReady, api.ConditionFalse, "KubeletNotReady", "")}},
		{name: "no conditions refused", pod: "web",
			conditions: []api.NodeCondition{condition(api.NodeDiskPressure, api.ConditionTrue, "KubeletHasDiskPressure", "")}},
		{name: "a condition of the operator's", pod: "web", refuse: []NodeCondition{{Type: "example.com/Draining", Status: api.ConditionTrue}}, code: 503,
			conditions: []api.NodeCondition{ready, {Type: "example.com/Draining", Status: api.ConditionTrue, Reason: "Maintenance\x1b[2J", Message: "drained\nE1201 forged"}},
			message:    "node node1 reports example.com/Draining=True (Maintenance [2J: drained E1201 forged): kube-apiserver"},
		{name: "a name one byte too long", pod: longest + "p", conditions: []api.NodeCondition{ready}, refuse: defaults, code: 400,
			message: "container app of pod default/" + longest + "p cannot be checkpointed: the kubelet names its archive checkpoint-<pod>_<namespace>-<container>-<time>.tar, which would be 256 bytes long, and a file name may have at most 255; the pod's name (208 bytes), namespace (7) and container name (3) add up to 218 bytes, and at most 217 fit: shorten them by 1"},
		// The name is refused first: no retry can help it.
		{name: "a long name on a pressured node", pod: strings.Repeat("p", 253), refuse: defaults, code: 400,
			conditions: []api.NodeCondition{condition(api.NodeDiskPressure, api.ConditionTrue, "KubeletHasDiskPressure", "")},
			message:    "which would be 301 bytes long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := false
			conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
				asked = true
				_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
			})
			p := runningPod()
			p.Name = tc.pod
			nodes := nodeRunning("containerd://2.2.9", "linux")
			nodes["node1"].Status.Conditions = tc.conditions
			events := record.NewFakeRecorder(10)
			r := &CheckpointREST{Store: podGetter{tc.pod: p}, Nodes: nodes, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, Events: events, RefuseNodeConditions: tc.refuse}
			RegisterCheckpointMetrics()
			label := fmt.Sprint(tc.code)
			before, _ := testutil.GetCounterMetricValue(checkpointRefused.WithLabelValues(label))
			rec := connectPod(t, r, tc.pod, &core.PodCheckpointOptions{})
			close(events.Events)
			if tc.code == 0 {
				if rec.err != nil || !asked {
					t.Fatalf("got %v (kubelet asked: %v), want the checkpoint taken", rec.err, asked)
				}
				return
			}
			expectStatus(t, rec.err, tc.code, tc.message)
			if asked {
				t.Error("the kubelet was asked")
			}
			if status := rec.err.(interface{ Status() metav1.Status }).Status(); tc.code == 503 && (status.Details == nil || status.Details.RetryAfterSeconds != 10) {
				t.Errorf("details %+v, want Retry-After 10", status.Details)
			}
			if after, _ := testutil.GetCounterMetricValue(checkpointRefused.WithLabelValues(label)); after != before+1 {
				t.Errorf("refused_total{code=%s} went from %v to %v, want one more", label, before, after)
			}
			event := <-events.Events
			if want := "Warning CheckpointRefused Checkpoint of container app on node node1 refused before the node was asked to checkpoint it: " + rec.err.Error(); event != want {
				t.Errorf("event %q\nwant %q", event, want)
			}
		})
	}
}

func TestParseNodeConditions(t *testing.T) {
	for _, tc := range []struct {
		specs []string
		want  string
		err   string
	}{
		{specs: DefaultRefuseNodeConditions, want: "[Ready=False Ready=Unknown DiskPressure=True]"},
		{specs: []string{" MemoryPressure = True ", ""}, want: "[MemoryPressure=True]"},
		{specs: nil, want: "[]"},
		{specs: []string{"DiskPressure"}, err: `"DiskPressure" is not a node condition: write TYPE=STATUS, such as DiskPressure=True`},
		{specs: []string{"=True"}, err: `"=True" is not a node condition: write TYPE=STATUS`},
		{specs: []string{"Ready=false"}, err: `"Ready=false" is not a node condition: its status must be True, False or Unknown`},
		{specs: []string{"Ready=True=False"}, err: `its status must be True, False or Unknown`},
	} {
		got, err := ParseNodeConditions(tc.specs)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: got %v, %v, want the error %q", tc.specs, got, err, tc.err)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != tc.want {
			t.Errorf("%q: got %v, %v, want %s", tc.specs, got, err, tc.want)
		}
	}
}
