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

package v1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// +k8s:conversion-gen:explicit-from=net/url.Values
// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PodCheckpointOptions is the query options of a pod's checkpoint call
// (POST /api/v1/namespaces/{namespace}/pods/{name}/checkpoint).
type PodCheckpointOptions struct {
	metav1.TypeMeta `json:",inline"`

	// Container is the container to checkpoint: a container, a restartable
	// init (sidecar) container or an ephemeral container of the pod, running.
	// It may be omitted when the pod has exactly one container.
	// +optional
	Container string `json:"container,omitempty" protobuf:"bytes,1,opt,name=container"`

	// TimeoutSeconds bounds the whole checkpoint, including the kubelet and
	// the container runtime. When omitted the server's default applies
	// (kube-apiserver --checkpoint-default-timeout); it cannot exceed the
	// server's maximum (--checkpoint-max-timeout).
	// +optional
	TimeoutSeconds *int64 `json:"timeoutSeconds,omitempty" protobuf:"varint,2,opt,name=timeoutSeconds"`
}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// PodCheckpointResult reports a checkpoint that the kubelet wrote. The archive
// stays on the node; only its path is reported.
// +k8s:conversion-gen=false
type PodCheckpointResult struct {
	metav1.TypeMeta `json:",inline"`

	// NodeName is the node whose kubelet wrote the archive.
	NodeName string `json:"nodeName" protobuf:"bytes,1,opt,name=nodeName"`

	// HostIP is the pod's host IP at the time of the checkpoint.
	// +optional
	HostIP string `json:"hostIP,omitempty" protobuf:"bytes,2,opt,name=hostIP"`

	// Namespace is the namespace of the pod.
	Namespace string `json:"namespace" protobuf:"bytes,3,opt,name=namespace"`

	// PodName is the name of the pod.
	PodName string `json:"podName" protobuf:"bytes,4,opt,name=podName"`

	// PodUID is the UID of the pod that was checkpointed.
	// +optional
	PodUID string `json:"podUID,omitempty" protobuf:"bytes,5,opt,name=podUID"`

	// ContainerName is the container that was checkpointed.
	ContainerName string `json:"containerName" protobuf:"bytes,6,opt,name=containerName"`

	// ArchivePaths are the checkpoint archives on the node, as the kubelet
	// reported them.
	// +listType=atomic
	ArchivePaths []string `json:"archivePaths" protobuf:"bytes,7,rep,name=archivePaths"`

	// CheckpointTime is when the checkpoint completed.
	CheckpointTime metav1.Time `json:"checkpointTime" protobuf:"bytes,8,opt,name=checkpointTime"`

	// DurationMilliseconds is how long the kubelet took to write the checkpoint.
	DurationMilliseconds int64 `json:"durationMilliseconds" protobuf:"varint,9,opt,name=durationMilliseconds"`
}
