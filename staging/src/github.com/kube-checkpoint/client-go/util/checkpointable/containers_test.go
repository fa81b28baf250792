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

package checkpointable

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

func TestContainers(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	waiting := corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	done := corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}
	pod := &corev1.Pod{
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "setup"}, {Name: "proxy", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
			Containers:     []corev1.Container{{Name: "app"}, {Name: "helper"}, {Name: "new"}},
			EphemeralContainers: []corev1.EphemeralContainer{
				{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debugger"}},
			},
		},
		Status: corev1.PodStatus{
			InitContainerStatuses:      []corev1.ContainerStatus{{Name: "setup", State: done}, {Name: "proxy", State: running}},
			ContainerStatuses:          []corev1.ContainerStatus{{Name: "helper", State: waiting}, {Name: "app", State: running}},
			EphemeralContainerStatuses: []corev1.ContainerStatus{{Name: "debugger", State: running}},
		},
	}
	if got, want := Containers(pod), []string{"proxy", "app", "debugger"}; !slices.Equal(got, want) {
		t.Errorf("Containers = %v, want %v", got, want)
	}
	if got, want := ContainerNames(pod), []string{"setup", "proxy", "app", "helper", "new", "debugger"}; !slices.Equal(got, want) {
		t.Errorf("ContainerNames = %v, want %v", got, want)
	}
	if got := Containers(&corev1.Pod{}); len(got) != 0 {
		t.Errorf("Containers of an empty pod = %v", got)
	}
}
