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

// Package pod finds where a pod's checkpoint is taken, as
// k8s.io/kubernetes/pkg/registry/core/pod finds where exec and logs go.
package pod

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	api "k8s.io/kubernetes/pkg/apis/core"
	apiv1 "k8s.io/kubernetes/pkg/apis/core/v1"
	"k8s.io/kubernetes/pkg/kubelet/client"
	podregistry "k8s.io/kubernetes/pkg/registry/core/pod"

	"github.com/kube-checkpoint/client-go/util/checkpointable"
)

// CheckpointTarget is a container that can be checkpointed now, and the
// kubelet endpoint that checkpoints it.
type CheckpointTarget struct {
	Pod       *api.Pod
	Container string
	// Location is the kubelet's POST /checkpoint/{namespace}/{pod}/{container} URL.
	Location *url.URL
	// Node is the connection to the kubelet of the pod's node.
	Node *client.ConnectionInfo
	// NodeStatus is what the pod's node reports of itself: its kubelet,
	// container runtime and operating system, and its conditions; empty when
	// the node is not looked up.
	NodeStatus api.NodeStatus
}

// CheckpointLocation resolves the pod and the container to checkpoint and the
// kubelet URL that checkpoints it within timeout. Every reason why the
// container cannot be checkpointed now is a BadRequest that names the
// containers that can. The pod's node is read from nodes, when given, as the
// apiserver's watch cache holds it: what it reports of itself changes when
// its kubelet restarts, not between two checkpoints. The pod is read from
// etcd, or when cached from the watch cache too; a target found there is
// confirmed by ConfirmCheckpointTarget before its kubelet is asked.
func CheckpointLocation(
	ctx context.Context,
	getter podregistry.ResourceGetter,
	nodes podregistry.ResourceGetter,
	connInfo client.ConnectionInfoGetter,
	name string,
	containerName string,
	timeout time.Duration,
	cached bool,
) (*CheckpointTarget, error) {
	podOptions := &metav1.GetOptions{}
	if cached {
		podOptions.ResourceVersion = "0"
	}
	obj, err := getter.Get(ctx, name, podOptions)
	if err != nil {
		return nil, err
	}
	pod, ok := obj.(*api.Pod)
	if !ok {
		return nil, errors.NewInternalError(fmt.Errorf("unexpected object type %T", obj))
	}
	container, err := checkpointableContainer(pod, containerName)
	if err != nil {
		return nil, err
	}
	var nodeStatus api.NodeStatus
	if nodes != nil {
		obj, err := nodes.Get(genericapirequest.WithNamespace(ctx, ""), pod.Spec.NodeName, &metav1.GetOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		node, ok := obj.(*api.Node)
		if !ok {
			return nil, errors.NewInternalError(fmt.Errorf("unexpected object type %T", obj))
		}
		nodeStatus = node.Status
	}
	nodeInfo, err := connInfo.GetConnectionInfo(ctx, types.NodeName(pod.Spec.NodeName))
	if err != nil {
		return nil, err
	}
	params := url.Values{}
	params.Set("timeout", strconv.FormatInt(int64(timeout/time.Second), 10))
	return &CheckpointTarget{
		Pod:       pod,
		Container: container,
		Location: &url.URL{
			Scheme:   nodeInfo.Scheme,
			Host:     net.JoinHostPort(nodeInfo.Hostname, nodeInfo.Port),
			Path:     fmt.Sprintf("/checkpoint/%s/%s/%s", pod.Namespace, pod.Name, container),
			RawQuery: params.Encode(),
		},
		Node:       nodeInfo,
		NodeStatus: nodeStatus,
	}, nil
}

// ConfirmCheckpointTarget reads the pod of a target found in the apiserver's
// watch cache again from etcd, as upstream reads a pod before it asks its
// kubelet for logs or exec, and checks that the container can still be
// checkpointed: the same pod (not one created again under its name) with
// the container running.
func ConfirmCheckpointTarget(ctx context.Context, getter podregistry.ResourceGetter, target *CheckpointTarget) error {
	obj, err := getter.Get(genericapirequest.WithNamespace(ctx, target.Pod.Namespace), target.Pod.Name, &metav1.GetOptions{})
	if err != nil {
		return err
	}
	pod, ok := obj.(*api.Pod)
	if !ok {
		return errors.NewInternalError(fmt.Errorf("unexpected object type %T", obj))
	}
	if _, err := checkpointableContainer(pod, target.Container); err != nil {
		return err
	}
	if pod.UID != target.Pod.UID {
		return errors.NewConflict(api.Resource("pods/checkpoint"), pod.Name, fmt.Errorf("pod %s was deleted and created again (on node %s) while its checkpoint was prepared: retry", pod.Name, pod.Spec.NodeName))
	}
	return nil
}

// checkpointableContainer picks the named container, or the only container of
// the pod when none is named, and checks that the pod is bound and running and
// that the container is running. Which containers can be checkpointed is
// defined once, for the apiserver and kubectl --all-containers alike, by
// checkpointable.Containers.
func checkpointableContainer(pod *api.Pod, name string) (string, error) {
	if pod.Spec.NodeName == "" {
		return "", errors.NewBadRequest(fmt.Sprintf("pod %s is not bound to a node yet: only a running pod can be checkpointed", pod.Name))
	}
	if pod.Status.Phase != api.PodRunning {
		return "", errors.NewBadRequest(fmt.Sprintf("pod %s is %s: only a running pod can be checkpointed", pod.Name, phaseOf(pod)))
	}
	versioned := &corev1.Pod{}
	if err := apiv1.Convert_core_Pod_To_v1_Pod(pod, versioned, nil); err != nil {
		return "", errors.NewInternalError(err)
	}
	running := checkpointable.Containers(versioned)
	if name == "" {
		if len(pod.Spec.Containers) != 1 {
			return "", errors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s, choose one of: %s", pod.Name, choices(running)))
		}
		name = pod.Spec.Containers[0].Name
	}
	if !slices.Contains(checkpointable.ContainerNames(versioned), name) {
		return "", errors.NewBadRequest(fmt.Sprintf("container %s is not valid for pod %s, choose one of: %s", name, pod.Name, choices(running)))
	}
	if !slices.Contains(running, name) {
		return "", errors.NewBadRequest(fmt.Sprintf("container %s of pod %s is %s: only a running container can be checkpointed, choose one of: %s", name, pod.Name, containerState(pod, name), choices(running)))
	}
	return name, nil
}

func allStatuses(pod *api.Pod) []api.ContainerStatus {
	statuses := make([]api.ContainerStatus, 0, len(pod.Status.ContainerStatuses)+len(pod.Status.InitContainerStatuses)+len(pod.Status.EphemeralContainerStatuses))
	statuses = append(statuses, pod.Status.ContainerStatuses...)
	statuses = append(statuses, pod.Status.InitContainerStatuses...)
	return append(statuses, pod.Status.EphemeralContainerStatuses...)
}

// containerState describes why a container is not running, in the words of
// kubectl's STATUS column.
func containerState(pod *api.Pod, name string) string {
	for _, s := range allStatuses(pod) {
		if s.Name != name {
			continue
		}
		switch {
		case s.State.Terminated != nil && s.State.Terminated.Reason != "":
			return "terminated (" + s.State.Terminated.Reason + ")"
		case s.State.Terminated != nil:
			return "terminated"
		case s.State.Waiting != nil && s.State.Waiting.Reason != "":
			return "waiting (" + s.State.Waiting.Reason + ")"
		case s.State.Waiting != nil:
			return "waiting"
		}
	}
	return "not started"
}

func phaseOf(pod *api.Pod) string {
	if pod.Status.Phase == "" {
		return "in an unknown phase"
	}
	return string(pod.Status.Phase)
}

// choices lists the containers that can be checkpointed.
func choices(running []string) string {
	if len(running) == 0 {
		return "[] (no container of the pod is running)"
	}
	return "[" + strings.Join(running, " ") + "]"
}
