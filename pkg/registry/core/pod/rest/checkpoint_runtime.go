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

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod"
)

// The nodes that cannot checkpoint, told apart by what the node reports of
// itself (status.nodeInfo) and by what its runtime answered the kubelet. The
// kubelet answers every runtime failure with HTTP 500 "checkpointing of
// NS/POD/C failed (<gRPC error>)"; the texts below are the runtimes' own, read
// in their sources (docs/version-skew.md has the measured matrix).
var runtimeRefusals = []struct {
	// text is what the runtime's error contains.
	text string
	// why completes "node N cannot checkpoint: its container runtime R ...".
	why string
}{
	// containerd 1.7 (pkg/cri/server and pkg/cri/sbserver) and every runtime
	// that leaves the CRI call out, as gRPC answers a method it lacks.
	{"code = Unimplemented", "does not implement the CRI call CheckpointContainer"},
	// containerd 2.2.7+/2.3.4+/2.4 with enable_criu = false in
	// [plugins.'io.containerd.cri.v1.runtime'].
	{"criu support is disabled by configuration", "has CRIU turned off (containerd: enable_criu = false in [plugins.'io.containerd.cri.v1.runtime'])"},
	// containerd 2.2.7+/2.3.4+/2.4 when no criu is in the shim's or its PATH.
	{"criu binary not found", "finds no CRIU binary: install CRIU 4.2 or newer on the node"},
	// containerd before it checked for CRIU itself: runc's own lookup.
	{`"criu": executable file not found`, "finds no CRIU binary: install CRIU 4.2 or newer on the node"},
	{"checkpoint/restore requires at least CRIU", "finds a CRIU too old to checkpoint pods: install CRIU 4.2 or newer on the node"},
	// CRI-O without enable_criu_support = true (not measured here).
	{"checkpoint/restore support not available", "has checkpointing turned off (CRI-O: enable_criu_support = true in crio.conf)"},
}

// runtimeCannotCheckpoint is the 501 of a kubelet answer that says the node's
// runtime cannot checkpoint at all, as opposed to failing this checkpoint;
// nil when the answer says neither.
func runtimeCannotCheckpoint(t *pod.CheckpointTarget, body string) error {
	for _, refusal := range runtimeRefusals {
		if !strings.Contains(body, refusal.text) {
			continue
		}
		msg := fmt.Sprintf("node %s cannot checkpoint: its container runtime %s %s", t.Pod.Spec.NodeName, runtimeOf(t), refusal.why)
		if refusal.text == runtimeRefusals[0].text {
			msg += "; " + runtimeThatCan(t)
		}
		return notImplemented(fmt.Sprintf("%s (the kubelet: %s)", msg, body))
	}
	return nil
}

// nodeCannotCheckpoint refuses, before its kubelet is asked, a node that
// cannot run CRIU at all.
func nodeCannotCheckpoint(t *pod.CheckpointTarget) error {
	if system := t.NodeStatus.NodeInfo.OperatingSystem; system != "" && system != "linux" {
		return notImplemented(fmt.Sprintf("node %s cannot checkpoint: it runs %s (status.nodeInfo.operatingSystem), and containers are checkpointed by CRIU, which runs only on Linux nodes", t.Pod.Spec.NodeName, system))
	}
	return nil
}

// notImplemented is the 501 of a node that cannot checkpoint.
func notImplemented(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotImplemented,
		Reason:  StatusReasonNotImplemented,
		Message: msg,
	}}
}

// runtimeOf names the node's runtime and version as the node reports them
// ("containerd://1.7.35" is containerd 1.7.35).
func runtimeOf(t *pod.CheckpointTarget) string {
	name, version, ok := strings.Cut(t.NodeStatus.NodeInfo.ContainerRuntimeVersion, "://")
	if !ok || name == "" {
		return "(unknown: the node reports no status.nodeInfo.containerRuntimeVersion)"
	}
	// The node writes its own status: what it says is quoted as a kubelet's
	// answer is.
	return kubeletText([]byte(name + " " + version))
}

// runtimeThatCan says which release of the node's runtime checkpoints.
func runtimeThatCan(t *pod.CheckpointTarget) string {
	name, _, _ := strings.Cut(t.NodeStatus.NodeInfo.ContainerRuntimeVersion, "://")
	switch name {
	case "containerd":
		return "containerd v2.0 or newer can, with CRIU 4.2 or newer on the node"
	case "cri-o":
		return "CRI-O v1.25 or newer can, with enable_criu_support = true and CRIU 4.2 or newer on the node"
	}
	return "containerd v2.0 or newer and CRI-O v1.25 or newer can, with CRIU 4.2 or newer on the node"
}
