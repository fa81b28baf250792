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

package pod

import (
	"net/http"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	api "k8s.io/kubernetes/pkg/apis/core"
)

// TestCheckpointableContainer holds the whole messages of every reason a
// container cannot be checkpointed now; the integration and e2e tests check
// their status, reason and key words.
func TestCheckpointableContainer(t *testing.T) {
	running := api.ContainerState{Running: &api.ContainerStateRunning{}}
	always := api.ContainerRestartPolicyAlways
	multi := &api.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "multi"},
		Spec: api.PodSpec{
			NodeName:            "node1",
			InitContainers:      []api.Container{{Name: "setup"}, {Name: "proxy", RestartPolicy: &always}},
			Containers:          []api.Container{{Name: "app"}, {Name: "helper"}},
			EphemeralContainers: []api.EphemeralContainer{{EphemeralContainerCommon: api.EphemeralContainerCommon{Name: "debugger"}}},
		},
		Status: api.PodStatus{
			Phase: api.PodRunning,
			InitContainerStatuses: []api.ContainerStatus{
				{Name: "setup", State: api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "Completed"}}},
				{Name: "proxy", State: running},
			},
			ContainerStatuses: []api.ContainerStatus{
				{Name: "app", State: running},
				{Name: "helper", State: api.ContainerState{Waiting: &api.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}},
			},
			EphemeralContainerStatuses: []api.ContainerStatus{{Name: "debugger", State: running}},
		},
	}
	single := &api.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       api.PodSpec{NodeName: "node1", Containers: []api.Container{{Name: "app"}}},
		Status:     api.PodStatus{Phase: api.PodRunning, ContainerStatuses: []api.ContainerStatus{{Name: "app", State: running}}},
	}
	withPhase := func(pod *api.Pod, node string, phase api.PodPhase) *api.Pod {
		p := pod.DeepCopy()
		p.Spec.NodeName, p.Status.Phase = node, phase
		return p
	}
	stopped := single.DeepCopy()
	stopped.Status.ContainerStatuses[0].State = api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "OOMKilled"}}

	for _, tc := range []struct {
		name      string
		pod       *api.Pod
		container string
		want      string
		message   string
	}{
		{name: "the only container", pod: single, want: "app"},
		{name: "a sidecar", pod: multi, container: "proxy", want: "proxy"},
		{name: "an ephemeral container", pod: multi, container: "debugger", want: "debugger"},
		{name: "not bound", pod: withPhase(single, "", api.PodPending),
			message: "pod web is not bound to a node yet: only a running pod can be checkpointed"},
		{name: "pending", pod: withPhase(single, "node1", api.PodPending),
			message: "pod web is Pending: only a running pod can be checkpointed"},
		{name: "succeeded", pod: withPhase(single, "node1", api.PodSucceeded),
			message: "pod web is Succeeded: only a running pod can be checkpointed"},
		{name: "no phase", pod: withPhase(single, "node1", ""),
			message: "pod web is in an unknown phase: only a running pod can be checkpointed"},
		{name: "unknown container", pod: multi, container: "nope",
			message: "container nope is not valid for pod multi, choose one of: [proxy app debugger]"},
		{name: "waiting container", pod: multi, container: "helper",
			message: "container helper of pod multi is waiting (CrashLoopBackOff): only a running container can be checkpointed, choose one of: [proxy app debugger]"},
		{name: "completed init container", pod: multi, container: "setup",
			message: "container setup of pod multi is terminated (Completed): only a running container can be checkpointed, choose one of: [proxy app debugger]"},
		{name: "several containers, none named", pod: multi,
			message: "a container name must be specified for pod multi, choose one of: [proxy app debugger]"},
		{name: "nothing running", pod: stopped,
			message: "container app of pod web is terminated (OOMKilled): only a running container can be checkpointed, choose one of: [] (no container of the pod is running)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkpointableContainer(tc.pod, tc.container)
			if tc.message == "" {
				if err != nil || got != tc.want {
					t.Errorf("got %q %v, want %q", got, err, tc.want)
				}
				return
			}
			if !apierrors.IsBadRequest(err) || err.Error() != tc.message {
				t.Errorf("got %v\nwant 400 %s", err, tc.message)
			}
			if status := err.(apierrors.APIStatus).Status(); status.Code != http.StatusBadRequest {
				t.Errorf("code %d", status.Code)
			}
		})
	}
}
