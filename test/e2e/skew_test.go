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

package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kubernetes/test/e2e/framework"
	e2epod "k8s.io/kubernetes/test/e2e/framework/pod"
	admissionapi "k8s.io/pod-security-admission/api"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/features"
)

var (
	nodeStacks       = flag.String("node-stacks", "", "the node-stacks file of a make local-up NODES=... cluster (\"nodeN kubelet=v.. containerd=v.. runc=v.. criu=enabled|disabled\" a line): one skew spec per node")
	checkpointctlBin = flag.String("checkpointctl", "", "checkpointctl, which the skew specs run on every archive as forensic users do; empty skips that check")
)

// nodeStack is what one node of the skew matrix runs.
type nodeStack struct {
	node                            string
	kubelet, containerd, runc, criu string
}

func (s nodeStack) String() string {
	return fmt.Sprintf("kubelet %s, containerd %s, runc %s, CRIU %s", s.kubelet, s.containerd, s.runc, s.criu)
}

// outcome is what pods/checkpoint answers on a node of this stack, as
// docs/version-skew.md says: 200 and an archive, or a refusal with the words
// a user acts on.
func (s nodeStack) outcome() (int32, []string) {
	switch {
	case strings.HasPrefix(s.containerd, "v1."):
		return 501, []string{
			fmt.Sprintf("node %s cannot checkpoint: its container runtime containerd %s does not implement the CRI call CheckpointContainer; containerd v2.0 or newer can", s.node, s.reported()),
			"method CheckpointContainer not implemented",
		}
	case s.criu == "disabled":
		return 501, []string{
			fmt.Sprintf("node %s cannot checkpoint: its container runtime containerd %s has CRIU turned off (containerd: enable_criu = false", s.node, s.reported()),
			"criu support is disabled by configuration",
		}
	}
	return 200, nil
}

// reported is the containerd version as the node reports it (containerd's
// CRI answers its version without the tag's "v").
func (s nodeStack) reported() string { return strings.TrimPrefix(s.containerd, "v") }

// readNodeStacks reads the rows of the matrix, when the suite was given them.
func readNodeStacks() []nodeStack {
	if *nodeStacks == "" {
		return nil
	}
	raw, err := os.ReadFile(*nodeStacks)
	if err != nil {
		panic(fmt.Sprintf("--node-stacks: %v", err))
	}
	var rows []nodeStack
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		fields := strings.Fields(line)
		row := nodeStack{node: fields[0]}
		for _, item := range fields[1:] {
			key, value, _ := strings.Cut(item, "=")
			switch key {
			case "kubelet":
				row.kubelet = value
			case "containerd":
				row.containerd = value
			case "runc":
				row.runc = value
			case "criu":
				row.criu = value
			}
		}
		rows = append(rows, row)
	}
	return rows
}

var _ = framework.Describe("pods/checkpoint on every node stack", framework.WithFeatureGate(features.ContainerCheckpointAPI), framework.WithLabel("Skew"), func() {
	f := framework.NewDefaultFramework("checkpoint-skew")
	// The archive inspector mounts the kubelet's checkpoint directory.
	f.NamespacePodSecurityLevel = admissionapi.LevelPrivileged

	for _, row := range readNodeStacks() {
		code, words := row.outcome()
		want := "checkpoints"
		if code != 200 {
			want = fmt.Sprintf("refuses with %d", code)
		}
		ginkgo.It(fmt.Sprintf("%s on %s (%s), a plain container and one holding an established TCP connection", want, row.node, row), func(ctx context.Context) {
			checkpoints := typedv1.NewForConfigOrDie(f.ClientConfig()).Pods(f.Namespace.Name)
			node, err := f.ClientSet.CoreV1().Nodes().Get(ctx, row.node, metav1.GetOptions{})
			framework.ExpectNoError(err)
			// The node runs what the row says.
			gomega.Expect(node.Status.NodeInfo.KubeletVersion).To(gomega.Equal(row.kubelet))
			gomega.Expect(node.Status.NodeInfo.ContainerRuntimeVersion).To(gomega.Equal("containerd://" + row.reported()))

			plain := createPod(ctx, f, counterPod("plain", row.node, "counter"))
			tcpSpec := counterPod("tcp", row.node, "server", "client")
			tcpSpec.Spec.Containers[1].Args = []string{"connect", "127.0.0.1:8080"}
			tcp := createPod(ctx, f, tcpSpec)
			gomega.Eventually(ctx, func() (string, error) {
				return e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, tcp.Name, "client")
			}).WithTimeout(time.Minute).Should(gomega.ContainSubstring("connected"))

			for _, target := range []struct{ pod, container string }{{plain.Name, "counter"}, {tcp.Name, "client"}} {
				result, err := checkpoints.Checkpoint(ctx, target.pod, &checkpointv1.PodCheckpointOptions{Container: target.container})
				if code != 200 {
					expectStatus(err, code, words...)
					framework.Logf("matrix: %s: %s/%s: %d %v", row, target.pod, target.container, code, err)
					continue
				}
				framework.ExpectNoError(err, "checkpoint of %s/%s on %s", target.pod, target.container, row)
				framework.Logf("matrix: %s: %s/%s: 200 %s", row, target.pod, target.container, result.ArchivePaths[0])
				gomega.Expect(result.NodeName).To(gomega.Equal(row.node))
				inspectArchive(ctx, f, row.node, result.ArchivePaths[0])
				readWithCheckpointctl(result.ArchivePaths[0], target.container, target.container == "client")
			}

			// Whatever the answer, nothing is left frozen, and a refusal leaves
			// no archive.
			if code == 200 {
				for _, p := range []string{plain.Name, tcp.Name} {
					expectThawed(ctx, f, p, row.node)
				}
				waitForCount(ctx, f, plain.Name, "counter", waitForCount(ctx, f, plain.Name, "counter", 1)+5)
			} else {
				expectUnharmed(ctx, f, plain)
				expectThawed(ctx, f, tcp.Name, row.node)
				gomega.Expect(nodeAccess().archives(row.node, "checkpoint-"+tcp.Name+"_")).To(gomega.BeEmpty())
			}
			logs, err := e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, tcp.Name, "client")
			framework.ExpectNoError(err)
			gomega.Expect(logs).NotTo(gomega.ContainSubstring("connection closed"))
		})
	}
})

// expectThawed expects every cgroup of the pod on node thawed and its
// containers running, never restarted.
func expectThawed(ctx context.Context, f *framework.Framework, pod, node string) {
	ginkgo.GinkgoHelper()
	current, err := f.ClientSet.CoreV1().Pods(f.Namespace.Name).Get(ctx, pod, metav1.GetOptions{})
	framework.ExpectNoError(err)
	for _, s := range current.Status.ContainerStatuses {
		gomega.Expect(s.State.Running).NotTo(gomega.BeNil(), "container %s", s.Name)
		gomega.Expect(s.RestartCount).To(gomega.BeZero(), "container %s", s.Name)
	}
	expectCgroupsThawed(nodeAccess(), node, string(current.UID))
}

// readWithCheckpointctl reads the archive with checkpointctl inspect, as a
// forensic user does, and expects it to name the container, its image and
// containerd, and (tcp) an established TCP connection among its sockets.
func readWithCheckpointctl(archive, container string, tcp bool) {
	ginkgo.GinkgoHelper()
	if *checkpointctlBin == "" {
		return
	}
	out, err := exec.Command(*checkpointctlBin, "inspect", "--format=json", "--ps-tree", "--sockets", archive).CombinedOutput()
	framework.ExpectNoError(err, "checkpointctl inspect %s: %s", archive, out)
	var shown []struct {
		ContainerName string `json:"container_name"`
		Image         string `json:"image"`
		Engine        string `json:"engine"`
		ProcessTree   *struct {
			Command string `json:"command"`
		} `json:"process_tree"`
		Sockets []struct {
			OpenSockets []struct {
				Data struct {
					State string `json:"state"`
				} `json:"data"`
			} `json:"open_sockets"`
		} `json:"sockets"`
	}
	framework.ExpectNoError(json.Unmarshal(out, &shown), "checkpointctl inspect --format=json: %s", out)
	gomega.Expect(shown).To(gomega.HaveLen(1), "%s", out)
	gomega.Expect(shown[0].ContainerName).To(gomega.Equal(container), "%s", out)
	gomega.Expect(shown[0].Image).To(gomega.ContainSubstring(path.Base(strings.Split(*testImage, ":")[0])), "%s", out)
	gomega.Expect(shown[0].Engine).To(gomega.Equal("containerd"), "%s", out)
	gomega.Expect(shown[0].ProcessTree).NotTo(gomega.BeNil(), "%s", out)
	gomega.Expect(shown[0].ProcessTree.Command).To(gomega.Equal("counter"), "%s", out)
	if tcp {
		var states []string
		for _, s := range shown[0].Sockets {
			for _, o := range s.OpenSockets {
				states = append(states, o.Data.State)
			}
		}
		gomega.Expect(states).To(gomega.ContainElement("ESTABLISHED"), "%s", out)
	}
}
