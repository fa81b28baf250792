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
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	api "k8s.io/kubernetes/pkg/apis/core"

	"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod"
)

// The protections of a node that refuse a checkpoint before its kubelet is
// asked, so before anything is frozen or written there.

// NodeCondition is a condition of a node, and the status of it, in which no
// container of the node is checkpointed.
type NodeCondition struct {
	Type   api.NodeConditionType
	Status api.ConditionStatus
}

func (c NodeCondition) String() string { return string(c.Type) + "=" + string(c.Status) }

// DefaultRefuseNodeConditions are the conditions of
// --checkpoint-refuse-node-conditions by default: a node that is not Ready
// (its kubelet may not answer, or be evicting), and one whose kubelet already
// reclaims disk space, which an archive would take more of.
var DefaultRefuseNodeConditions = []string{"Ready=False", "Ready=Unknown", "DiskPressure=True"}

// ParseNodeConditions reads conditions written TYPE=STATUS, STATUS True,
// False or Unknown.
func ParseNodeConditions(specs []string) ([]NodeCondition, error) {
	var conditions []NodeCondition
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		t, s, ok := strings.Cut(spec, "=")
		t = strings.TrimSpace(t)
		status := api.ConditionStatus(strings.TrimSpace(s))
		if !ok || t == "" || strings.ContainsAny(t, "=, \t") {
			return nil, fmt.Errorf("%q is not a node condition: write TYPE=STATUS, such as DiskPressure=True", spec)
		}
		switch status {
		case api.ConditionTrue, api.ConditionFalse, api.ConditionUnknown:
		default:
			return nil, fmt.Errorf("%q is not a node condition: its status must be True, False or Unknown", spec)
		}
		conditions = append(conditions, NodeCondition{Type: api.NodeConditionType(t), Status: status})
	}
	return conditions, nil
}

// nodeConditionRetryAfterSeconds is when a client refused for its node's
// condition may ask again: about when the kubelet next reports the node's
// status (every 10 s by default).
const nodeConditionRetryAfterSeconds = 10

// nodeConditionRefuses is the 503 of a node in a condition that refuses
// checkpoints, naming the condition, its reason and since when; nil when the
// node is in none of them.
func nodeConditionRefuses(t *pod.CheckpointTarget, refuse []NodeCondition) error {
	for _, c := range t.NodeStatus.Conditions {
		for _, r := range refuse {
			if c.Type != r.Type || c.Status != r.Status {
				continue
			}
			detail := strings.TrimSuffix(kubeletText([]byte(c.Reason+": "+c.Message)), ":")
			if !c.LastTransitionTime.IsZero() {
				detail += ", since " + c.LastTransitionTime.UTC().Format(time.RFC3339)
			}
			return &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure,
				Code:   http.StatusServiceUnavailable,
				Reason: metav1.StatusReasonServiceUnavailable,
				Message: fmt.Sprintf("node %s reports %s (%s): kube-apiserver checkpoints no container on a node in that condition (--checkpoint-refuse-node-conditions), and nothing was asked of the node; retry once the condition has cleared",
					t.Pod.Spec.NodeName, r, detail),
				Details: &metav1.StatusDetails{Name: t.Pod.Name, Kind: "pods", RetryAfterSeconds: nodeConditionRetryAfterSeconds},
			}}
		}
	}
	return nil
}

// maxArchiveName is the longest file name of the kubelet's checkpoints
// directory: NAME_MAX of every Linux file system the kubelet runs on.
const maxArchiveName = 255

// archiveNameLength is the length in bytes of the name of the archive the
// kubelet writes for the container: every kubelet the skew policy allows
// (v1.34 to v1.37, pkg/kubelet/kubelet.go CheckpointContainer) names it
// checkpoint-<pod>_<namespace>-<container>-<time>.tar, the time RFC 3339 to
// the second in the kubelet's zone: 20 bytes in UTC ("Z"), as kubelets run.
func archiveNameLength(t *pod.CheckpointTarget) int {
	const fixed = len("checkpoint-") + len("_") + len("-") + len("-") + len("2006-01-02T15:04:05Z") + len(".tar")
	return fixed + len(t.Pod.Name) + len(t.Pod.Namespace) + len(t.Container)
}

// archiveNameTooLong is the 400 of a container whose archive the kubelet
// could not name: its runtime would freeze and dump the container and then
// fail to create the file.
func archiveNameTooLong(t *pod.CheckpointTarget) error {
	n := archiveNameLength(t)
	if n <= maxArchiveName {
		return nil
	}
	names := len(t.Pod.Name) + len(t.Pod.Namespace) + len(t.Container)
	fit := maxArchiveName - (n - names)
	msg := fmt.Sprintf("container %s of pod %s/%s cannot be checkpointed: the kubelet names its archive checkpoint-<pod>_<namespace>-<container>-<time>.tar, which would be %d bytes long, and a file name may have at most %d; the pod's name (%d bytes), namespace (%d) and container name (%d) add up to %d bytes, and at most %d fit: shorten them by %d",
		t.Container, t.Pod.Namespace, t.Pod.Name, n, maxArchiveName, len(t.Pod.Name), len(t.Pod.Namespace), len(t.Container), names, fit, names-fit)
	return apierrors.NewBadRequest(msg)
}

// refuse answers a checkpoint that a protection of the node refused before
// its kubelet was asked: counted with its code, and told to the pod's owners
// with a Warning Event that names the protection.
func (r *CheckpointREST) refuse(t *pod.CheckpointTarget, err error) error {
	code := http.StatusInternalServerError
	if status, ok := err.(apierrors.APIStatus); ok {
		code = int(status.Status().Code)
	}
	recordRefused(code)
	if r.Events != nil {
		p := t.Pod
		ref := &corev1.ObjectReference{Kind: "Pod", APIVersion: "v1", Namespace: p.Namespace, Name: p.Name, UID: p.UID}
		r.Events.Eventf(ref, corev1.EventTypeWarning, "CheckpointRefused", "Checkpoint of container %s on node %s refused before the node was asked to checkpoint it: %v", t.Container, p.Spec.NodeName, err)
	}
	return err
}
