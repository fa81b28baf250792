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
	"fmt"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/test/e2e/framework"
	admissionapi "k8s.io/pod-security-admission/api"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/features"
)

var _ = framework.Describe("pods/checkpoint node protection", framework.WithFeatureGate(features.ContainerCheckpointAPI), func() {
	f := framework.NewDefaultFramework("checkpoint-protect")
	f.NamespacePodSecurityLevel = admissionapi.LevelPrivileged

	ginkgo.It("refuses with 400 a container whose archive the kubelet could not name, before anything is frozen", func(ctx context.Context) {
		// 180 bytes of pod name: the kubelet's own directories of the pod
		// (<namespace>_<pod>_<uid>) still fit a file name; its archive,
		// with a container name of 63, does not.
		container := strings.Repeat("c", 63)
		pod := createPod(ctx, f, counterPod(strings.Repeat("p", 180), "", container))
		checkpoints := typedv1.NewForConfigOrDie(f.ClientConfig()).Pods(f.Namespace.Name)

		_, err := checkpoints.Checkpoint(ctx, pod.Name, &checkpointv1.PodCheckpointOptions{Container: container})
		names := len(pod.Name) + len(f.Namespace.Name) + len(container)
		message := fmt.Sprintf("container %s of pod %s/%s cannot be checkpointed: the kubelet names its archive checkpoint-<pod>_<namespace>-<container>-<time>.tar, which would be %d bytes long, and a file name may have at most 255; the pod's name (180 bytes), namespace (%d) and container name (63) add up to %d bytes, and at most 217 fit: shorten them by %d",
			container, f.Namespace.Name, pod.Name, names+38, len(f.Namespace.Name), names, names-217)
		expectStatus(err, 400, message)
		expectEvent(ctx, f, pod.Name, fmt.Sprintf("kube-apiserver Warning CheckpointRefused Checkpoint of container %s on node %s refused before the node was asked to checkpoint it: %s", container, pod.Spec.NodeName, message))
		expectNoEvent(ctx, f, pod.Name, "CheckpointFailed")
		expectNeverFrozen(ctx, f, pod, container)
	})

	framework.It("refuses with 503 and Retry-After a pod on a node that reports DiskPressure=True, asking nothing of the node", framework.WithSerial(), framework.WithDisruptive(), func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		node := pod.Spec.NodeName
		client := f.ClientSet
		ginkgo.DeferCleanup(setDiskPressure, client, node, corev1.ConditionFalse)
		// The node's kubelet reports its own DiskPressure again within its
		// status update period (10 s), so the pressure is set again before
		// each try; the answer is read without client-go's retries, which
		// would wait out the Retry-After. A try that reached the apiserver
		// before the pressure did was checkpointed: its archive is removed,
		// and the next try made.
		var err error
		gomega.Eventually(ctx, func() int32 {
			setDiskPressure(ctx, client, node, corev1.ConditionTrue)
			answer := f.ClientSet.CoreV1().RESTClient().Post().Namespace(f.Namespace.Name).Resource("pods").Name(pod.Name).
				SubResource("checkpoint").MaxRetries(0).Do(ctx)
			if err = answer.Error(); err == nil {
				raw, _ := answer.Raw()
				var result checkpointv1.PodCheckpointResult
				framework.ExpectNoError(json.Unmarshal(raw, &result))
				if nodes := nodeAccess(); nodes != nil {
					for _, archive := range result.ArchivePaths {
						nodes.remove(node, archive)
					}
				}
				return 200
			}
			if status, ok := err.(apierrors.APIStatus); ok {
				return status.Status().Code
			}
			return 0
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(gomega.Equal(int32(503)), "%v", err)
		message := fmt.Sprintf("node %s reports DiskPressure=True (E2EDiskPressure: set by the checkpoint e2e suite, since ", node)
		expectStatus(err, 503, message, "kube-apiserver checkpoints no container on a node in that condition (--checkpoint-refuse-node-conditions), and nothing was asked of the node; retry once the condition has cleared")
		gomega.Expect(err.(apierrors.APIStatus).Status().Details.RetryAfterSeconds).To(gomega.Equal(int32(10)))
		expectEvent(ctx, f, pod.Name, fmt.Sprintf("kube-apiserver Warning CheckpointRefused Checkpoint of container counter on node %s refused before the node was asked to checkpoint it: %s", node, err))
		expectNeverFrozen(ctx, f, pod, "counter")

		// Once the node reports no pressure, the same pod checkpoints.
		setDiskPressure(ctx, client, node, corev1.ConditionFalse)
		checkpoints := typedv1.NewForConfigOrDie(f.ClientConfig()).Pods(f.Namespace.Name)
		gomega.Eventually(ctx, func() error {
			_, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
			return err
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(gomega.Succeed())
	})

	framework.It("refuses with 507 an archive that would leave less than --checkpoint-node-disk-reserve free, and checkpoints one that fits", framework.WithSerial(), framework.WithDisruptive(), func(ctx context.Context) {
		skipUnlessDaemons()
		spec := counterPod("big", "", "counter")
		spec.Spec.Containers[0].Args = []string{"-hold-mib", "512"}
		big := createPod(ctx, f, spec)
		waitForLog(ctx, f, big.Name, "holding 512 MiB")
		node := big.Spec.NodeName
		small := createPod(ctx, f, counterPod("small", node, "counter"))

		// What the node's kubelet has free where it writes archives, as the
		// apiserver will ask it: a reserve that leaves 256 MiB for an archive
		// refuses the 512 MiB container and lets a small one through.
		raw, err := f.ClientSet.CoreV1().RESTClient().Get().AbsPath("/api/v1/nodes", node, "proxy/stats/summary").DoRaw(ctx)
		framework.ExpectNoError(err)
		var summary struct {
			Node struct {
				Fs struct{ AvailableBytes, CapacityBytes int64 } `json:"fs"`
			} `json:"node"`
		}
		framework.ExpectNoError(json.Unmarshal(raw, &summary))
		reserve := summary.Node.Fs.AvailableBytes - 256<<20
		gomega.Expect(reserve).To(gomega.BeNumerically(">", 0), "the node has less than 256 MiB free")
		restartAPIServers(ctx, f, fmt.Sprintf("--checkpoint-node-disk-reserve=%d", reserve))

		checkpoints := typedv1.NewForConfigOrDie(f.ClientConfig()).Pods(f.Namespace.Name)
		_, err = checkpoints.Checkpoint(ctx, big.Name, nil)
		expectStatus(err, 507, fmt.Sprintf("the archive of container counter of pod %s/big would not fit on node %s: it is estimated at ", f.Namespace.Name, node),
			fmt.Sprintf("(--checkpoint-node-disk-reserve=%d) so that the kubelet does not evict pods", reserve))
		expectEvent(ctx, f, big.Name, fmt.Sprintf("kube-apiserver Warning CheckpointRefused Checkpoint of container counter on node %s refused before the node was asked to checkpoint it: %s", node, err))
		expectNeverFrozen(ctx, f, big, "counter")

		result, err := checkpoints.Checkpoint(ctx, small.Name, nil)
		framework.ExpectNoError(err)
		inspectArchive(ctx, f, node, result.ArchivePaths[0])
	})
})

// setDiskPressure sets the node's DiskPressure condition as its kubelet
// would report it.
func setDiskPressure(ctx context.Context, client kubernetes.Interface, node string, status corev1.ConditionStatus) {
	ginkgo.GinkgoHelper()
	now := metav1.Now()
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": []corev1.NodeCondition{{
		Type: corev1.NodeDiskPressure, Status: status, Reason: "E2EDiskPressure", Message: "set by the checkpoint e2e suite",
		LastHeartbeatTime: now, LastTransitionTime: now,
	}}}})
	framework.ExpectNoError(err)
	_, err = client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	framework.ExpectNoError(err)
}

// expectNoEvent expects no Event with reason on the pod.
func expectNoEvent(ctx context.Context, f *framework.Framework, pod, reason string) {
	ginkgo.GinkgoHelper()
	events, err := f.ClientSet.CoreV1().Events(f.Namespace.Name).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + pod})
	framework.ExpectNoError(err)
	for _, e := range events.Items {
		gomega.Expect(e.Reason).NotTo(gomega.Equal(reason), "%s", e.Message)
	}
}

// expectNeverFrozen expects the pod's container, after a checkpoint refused
// before its node was asked, counting on (3 more) and unharmed.
func expectNeverFrozen(ctx context.Context, f *framework.Framework, pod *corev1.Pod, container string) {
	ginkgo.GinkgoHelper()
	expectCountingOn(ctx, f, pod, container, 3)
}

// expectCountingOn expects the pod's counter container to count more, never
// restarted, with (on a cluster whose nodes the suite can read) every cgroup
// of the pod thawed and no archive of the pod in the kubelet's checkpoint
// directory.
func expectCountingOn(ctx context.Context, f *framework.Framework, pod *corev1.Pod, container string, more int) {
	ginkgo.GinkgoHelper()
	before := waitForCount(ctx, f, pod.Name, container, 1)
	waitForCount(ctx, f, pod.Name, container, before+more)
	current, err := f.ClientSet.CoreV1().Pods(f.Namespace.Name).Get(ctx, pod.Name, metav1.GetOptions{})
	framework.ExpectNoError(err)
	gomega.Expect(current.Status.ContainerStatuses[0].State.Running).NotTo(gomega.BeNil())
	gomega.Expect(current.Status.ContainerStatuses[0].RestartCount).To(gomega.BeZero())
	nodes := nodeAccess()
	if nodes == nil {
		return
	}
	expectCgroupsThawed(nodes, current.Spec.NodeName, string(pod.UID))
	gomega.Expect(nodes.archives(current.Spec.NodeName, "checkpoint-"+pod.Name+"_"+f.Namespace.Name+"-")).To(gomega.BeEmpty())
}
