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

package core

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PodCheckpointOptions is the query options of a pod's checkpoint call.
type PodCheckpointOptions struct {
	metav1.TypeMeta

	// Container is the container to checkpoint; empty means the only
	// container of the pod that can be checkpointed.
	Container string

	// TimeoutSeconds bounds the checkpoint; nil means the server's default.
	TimeoutSeconds *int64
}
