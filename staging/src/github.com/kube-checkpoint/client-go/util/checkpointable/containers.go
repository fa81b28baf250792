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

// Package checkpointable is the one definition of which containers of a pod
// pods/checkpoint can checkpoint, shared by kube-apiserver (which names them
// when it refuses a request) and kubectl (--all-containers).
package checkpointable

import (
	corev1 "k8s.io/api/core/v1"
)

// Containers returns the names of the containers of pod that can be
// checkpointed now: every container whose status is running, whatever its
// kind (the kubelet checkpoints any of them), in the order the kubelet starts
// them: init containers (a running one is a sidecar), regular containers,
// then ephemeral containers, as kubectl logs --all-containers lists them.
func Containers(pod *corev1.Pod) []string {
	running := map[string]bool{}
	for _, statuses := range [][]corev1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses, pod.Status.EphemeralContainerStatuses} {
		for _, s := range statuses {
			running[s.Name] = s.State.Running != nil
		}
	}
	var names []string
	for _, name := range ContainerNames(pod) {
		if running[name] {
			names = append(names, name)
		}
	}
	return names
}

// ContainerNames returns the names of every container of pod, running or
// not, in the order of Containers.
func ContainerNames(pod *corev1.Pod) []string {
	names := make([]string, 0, len(pod.Spec.InitContainers)+len(pod.Spec.Containers)+len(pod.Spec.EphemeralContainers))
	for _, c := range pod.Spec.InitContainers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.Containers {
		names = append(names, c.Name)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		names = append(names, c.Name)
	}
	return names
}
