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
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/kubernetes/test/e2e/framework"
	e2enode "k8s.io/kubernetes/test/e2e/framework/node"
	e2epod "k8s.io/kubernetes/test/e2e/framework/pod"
	admissionapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/features"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

var _ = framework.Describe("pods/checkpoint", framework.WithFeatureGate(features.ContainerCheckpointAPI), func() {
	f := framework.NewDefaultFramework("checkpoint")
	// The archive inspector mounts the kubelet's checkpoint directory.
	f.NamespacePodSecurityLevel = admissionapi.LevelPrivileged

	var checkpoints typedv1.PodInterface
	ginkgo.BeforeEach(func() {
		checkpoints = typedv1.NewForConfigOrDie(f.ClientConfig()).Pods(f.Namespace.Name)
	})

	ginkgo.It("checkpoints a running container through the typed client into a CRIU archive on its node, and the container keeps running", func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		before := waitForCount(ctx, f, pod.Name, "counter", 1)

		result, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
		framework.ExpectNoError(err)
		gomega.Expect(result.NodeName).To(gomega.Equal(pod.Spec.NodeName))
		gomega.Expect(result.HostIP).To(gomega.Equal(pod.Status.HostIP))
		gomega.Expect(result.Namespace).To(gomega.Equal(f.Namespace.Name))
		gomega.Expect(result.PodName).To(gomega.Equal(pod.Name))
		gomega.Expect(string(result.PodUID)).To(gomega.Equal(string(pod.UID)))
		gomega.Expect(result.ContainerName).To(gomega.Equal("counter"))
		gomega.Expect(result.ArchivePaths).To(gomega.HaveLen(1))
		gomega.Expect(path.Base(result.ArchivePaths[0])).To(gomega.MatchRegexp(
			`^checkpoint-%s_%s-counter-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\.tar$`, pod.Name, f.Namespace.Name))

		inspectArchive(ctx, f, result.NodeName, result.ArchivePaths[0])

		// The pod's owners see that an archive of it was written.
		expectEvent(ctx, f, pod.Name, fmt.Sprintf("kube-apiserver Normal Checkpointed Checkpointed container counter on node %s: %s", result.NodeName, result.ArchivePaths[0]))

		// Still running, never restarted, and counting on.
		waitForCount(ctx, f, pod.Name, "counter", before+10)
		pod, err = f.ClientSet.CoreV1().Pods(f.Namespace.Name).Get(ctx, pod.Name, metav1.GetOptions{})
		framework.ExpectNoError(err)
		gomega.Expect(pod.Status.ContainerStatuses[0].State.Running).NotTo(gomega.BeNil())
		gomega.Expect(pod.Status.ContainerStatuses[0].RestartCount).To(gomega.BeZero())
	})

	ginkgo.It("prints the checkpoint through kubectl alpha checkpoint and the kubectl-checkpoint plugin", func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		node := pod.Spec.NodeName + "/" + pod.Status.HostIP
		for _, args := range [][]string{
			{"kubectl", "alpha", "checkpoint", pod.Name},
			{"kubectl-checkpoint", pod.Name},
			{"kubectl", "checkpoint", "pod/" + pod.Name}, // the plugin, found on PATH by kubectl
		} {
			stdout, stderr, err := runCLI(f, args[0], args[1:]...)
			framework.ExpectNoError(err, "%v: %s", args, stderr)
			gomega.Expect(stderr).To(gomega.BeEmpty())
			gomega.Expect(stdout).To(gomega.MatchRegexp(`^Node:\s+%s\nNamespace:\s+%s\nPod:\s+%s\nContainer:\s+counter\nCheckpoint Archive:\s+\S+/checkpoint-%s_%s-counter-\S+\.tar\n$`,
				regexp.QuoteMeta(node), f.Namespace.Name, pod.Name, pod.Name, f.Namespace.Name), "%v", args)
			inspectArchive(ctx, f, pod.Spec.NodeName, strings.Fields(lastLine(stdout))[2])
		}
	})

	ginkgo.It("checkpoints containers holding an established TCP connection and a listening socket", func(ctx context.Context) {
		spec := counterPod("tcp", "", "server", "client")
		spec.Spec.Containers[1].Args = []string{"connect", "127.0.0.1:8080"}
		pod := createPod(ctx, f, spec)
		gomega.Eventually(ctx, func() (string, error) {
			return e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, pod.Name, "client")
		}).WithTimeout(time.Minute).Should(gomega.ContainSubstring("connected"))

		for _, c := range []string{"server", "client"} {
			result, err := checkpoints.Checkpoint(ctx, pod.Name, &checkpointv1.PodCheckpointOptions{Container: c})
			framework.ExpectNoError(err, "checkpoint of %s", c)
			inspectArchive(ctx, f, result.NodeName, result.ArchivePaths[0])
		}
		// The connection survived both checkpoints.
		logs, err := e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, pod.Name, "client")
		framework.ExpectNoError(err)
		gomega.Expect(logs).NotTo(gomega.ContainSubstring("connection closed"))
		waitForCount(ctx, f, pod.Name, "server", waitForCount(ctx, f, pod.Name, "server", 1)+5)
	})

	ginkgo.It("gives every client the whole result: protobuf, ?pretty=true, and kubectl -o json|yaml|jsonpath over several pods", func(ctx context.Context) {
		var pods []*corev1.Pod
		for _, name := range []string{"enc-a", "enc-b"} {
			spec := counterPod(name, "", "counter")
			spec.Labels = map[string]string{"checkpoint-e2e": "encodings"}
			pods = append(pods, createPod(ctx, f, spec))
		}

		// What controllers and the e2e framework's clientsets ask for.
		config := rest.CopyConfig(f.ClientConfig())
		config.ContentType = runtime.ContentTypeProtobuf
		result, err := typedv1.NewForConfigOrDie(config).Pods(f.Namespace.Name).Checkpoint(ctx, pods[0].Name, nil)
		framework.ExpectNoError(err)
		gomega.Expect(result.NodeName).To(gomega.Equal(pods[0].Spec.NodeName))
		gomega.Expect(string(result.PodUID)).To(gomega.Equal(string(pods[0].UID)))
		gomega.Expect(result.ContainerName).To(gomega.Equal("counter"))
		gomega.Expect(result.CheckpointTime.IsZero()).To(gomega.BeFalseBecause("the result carries its time"))
		gomega.Expect(result.ArchivePaths).To(gomega.HaveLen(1))
		inspectArchive(ctx, f, result.NodeName, result.ArchivePaths[0])

		body, err := f.ClientSet.CoreV1().RESTClient().Post().Namespace(f.Namespace.Name).Resource("pods").Name(pods[1].Name).
			SubResource("checkpoint").Param("pretty", "true").SetHeader("Accept", runtime.ContentTypeJSON).DoRaw(ctx)
		framework.ExpectNoError(err, "%s", body)
		gomega.Expect(string(body)).To(gomega.ContainSubstring("\n  \"containerName\": \"counter\""))

		for _, format := range []string{"json", "yaml"} {
			stdout, stderr, err := runCLI(f, "kubectl-checkpoint", "-l", "checkpoint-e2e=encodings", "-o", format)
			framework.ExpectNoError(err, stderr)
			list := &corev1.List{}
			framework.ExpectNoError(yaml.UnmarshalStrict([]byte(stdout), list), "-o %s is one document:\n%s", format, stdout)
			gomega.Expect(list.Kind).To(gomega.Equal("List"))
			gomega.Expect(list.Items).To(gomega.HaveLen(2), "-o %s:\n%s", format, stdout)
			for _, item := range list.Items {
				r := &checkpointv1.PodCheckpointResult{}
				framework.ExpectNoError(yaml.Unmarshal(item.Raw, r))
				gomega.Expect(r.Kind).To(gomega.Equal("PodCheckpointResult"))
				inspectArchive(ctx, f, r.NodeName, r.ArchivePaths[0])
			}
		}
		stdout, stderr, err := runCLI(f, "kubectl", "alpha", "checkpoint", "-l", "checkpoint-e2e=encodings", "-o", "jsonpath={range .items[*]}{.podName} {end}")
		framework.ExpectNoError(err, stderr)
		gomega.Expect(strings.Fields(stdout)).To(gomega.ConsistOf("enc-a", "enc-b"))
	})

	ginkgo.It("picks containers of a pod with several: default with a notice, -c, --all-containers, a sidecar; refuses a completed init container", func(ctx context.Context) {
		spec := counterPod("multi", "", "app", "helper")
		spec.Spec.Containers[1].Args = []string{"-listen=:8081"}
		spec.Spec.InitContainers = []corev1.Container{
			{Name: "setup", Image: *testImage, ImagePullPolicy: corev1.PullPolicy(*imagePullPolicy), Args: []string{"noop"}},
			{Name: "proxy", Image: *testImage, ImagePullPolicy: corev1.PullPolicy(*imagePullPolicy), Args: []string{"-listen=:8082"}, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)},
		}
		pod := createPod(ctx, f, spec)

		_, stderr, err := runCLI(f, "kubectl", "alpha", "checkpoint", pod.Name)
		framework.ExpectNoError(err, stderr)
		gomega.Expect(stderr).To(gomega.Equal("Defaulted container \"app\" out of: app, helper, setup (init), proxy (init)\n"))

		stdout, stderr, err := runCLI(f, "kubectl-checkpoint", pod.Name, "-c", "helper", "-o", "name")
		framework.ExpectNoError(err, stderr)
		gomega.Expect(stdout).To(gomega.Equal("pod/multi\n"))

		stdout, stderr, err = runCLI(f, "kubectl-checkpoint", pod.Name, "--all-containers")
		framework.ExpectNoError(err, stderr)
		gomega.Expect(regexp.MustCompile(`(?m)^Container:\s+(\S+)$`).FindAllStringSubmatch(stdout, -1)).To(gomega.Equal([][]string{
			{"Container:             proxy", "proxy"}, {"Container:             app", "app"}, {"Container:             helper", "helper"}}))

		result, err := checkpoints.Checkpoint(ctx, pod.Name, &checkpointv1.PodCheckpointOptions{Container: "proxy"})
		framework.ExpectNoError(err, "checkpoint of the sidecar")
		inspectArchive(ctx, f, result.NodeName, result.ArchivePaths[0])

		_, err = checkpoints.Checkpoint(ctx, pod.Name, &checkpointv1.PodCheckpointOptions{Container: "setup"})
		expectStatus(err, 400, "container setup of pod multi is terminated (Completed)", "choose one of: [proxy app helper]")
		_, err = checkpoints.Checkpoint(ctx, pod.Name, nil)
		expectStatus(err, 400, "a container name must be specified", "choose one of: [proxy app helper]")
	})

	ginkgo.It("keeps every archive it reports: quick checkpoints of one container get distinct archives, concurrent ones are refused with 409", func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		var archives []string
		for range 4 {
			result, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
			framework.ExpectNoError(err)
			archives = append(archives, result.ArchivePaths...)
		}

		type outcome struct {
			result *checkpointv1.PodCheckpointResult
			err    error
		}
		outcomes := make(chan outcome, 3)
		for range 3 {
			go func() {
				result, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
				outcomes <- outcome{result, err}
			}()
		}
		refused := 0
		for range 3 {
			o := <-outcomes
			if o.err != nil {
				expectStatus(o.err, 409, "a checkpoint of container counter is already in progress")
				refused++
				continue
			}
			archives = append(archives, o.result.ArchivePaths...)
		}
		gomega.Expect(refused).To(gomega.BeNumerically(">=", 1), "three checkpoints at once of one container")
		gomega.Expect(archives).To(gomega.HaveLen(4 + 3 - refused))
		seen := map[string]bool{}
		for _, a := range archives {
			gomega.Expect(seen).NotTo(gomega.HaveKey(a), "archive reported twice")
			seen[a] = true
		}
		inspectArchive(ctx, f, pod.Spec.NodeName, archives...)
	})

	ginkgo.It("writes the archive on the pod's node when there are two nodes", func(ctx context.Context) {
		nodes, err := e2enode.GetReadySchedulableNodes(ctx, f.ClientSet)
		framework.ExpectNoError(err)
		if len(nodes.Items) < 2 {
			ginkgo.Skip(fmt.Sprintf("needs 2 schedulable nodes, the cluster has %d (make local-up NUM_NODES=2)", len(nodes.Items)))
		}
		for _, node := range nodes.Items[:2] {
			pod := createPod(ctx, f, counterPod("on-"+node.Name, node.Name, "counter"))
			result, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
			framework.ExpectNoError(err)
			gomega.Expect(result.NodeName).To(gomega.Equal(node.Name))
			inspectArchive(ctx, f, node.Name, result.ArchivePaths[0])
		}
	})

	ginkgo.It("denies a user without the checkpoint role and lets one bound to it", func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		user := "e2e-checkpointer-" + f.Namespace.Name
		config := rest.CopyConfig(f.ClientConfig())
		config.Impersonate = rest.ImpersonationConfig{UserName: user}
		asUser := typedv1.NewForConfigOrDie(config).Pods(f.Namespace.Name)

		canI := func() string {
			ginkgo.GinkgoHelper()
			stdout, _, _ := runCLI(f, "kubectl", "auth", "can-i", "create", "pods", "--subresource=checkpoint", "--as="+user)
			return strings.TrimSpace(stdout)
		}
		gomega.Expect(canI()).To(gomega.Equal("no"))
		_, err := asUser.Checkpoint(ctx, pod.Name, nil)
		expectStatus(err, 403, fmt.Sprintf(`User "%s" cannot create resource "pods/checkpoint"`, user))

		_, err = f.ClientSet.RbacV1().RoleBindings(f.Namespace.Name).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "checkpointer"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:pod-checkpointer"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}, metav1.CreateOptions{})
		framework.ExpectNoError(err)
		gomega.Eventually(ctx, func() error {
			_, err := asUser.Checkpoint(ctx, pod.Name, nil)
			return err
		}).WithTimeout(30 * time.Second).Should(gomega.Succeed())
		gomega.Expect(canI()).To(gomega.Equal("yes"))
	})

	ginkgo.It("answers every bad request with its documented status, reason and words", func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		pending := counterPod("pending", "", "counter")
		pending.Spec.NodeSelector = map[string]string{"kube-checkpoint.invalid/no-such-node": "true"}
		_, err := f.ClientSet.CoreV1().Pods(f.Namespace.Name).Create(ctx, pending, metav1.CreateOptions{})
		framework.ExpectNoError(err)
		for _, tc := range []struct {
			pod, query string
			code       int32
			// The words a user acts on; the whole messages are the unit
			// and integration tests' to check.
			words []string
		}{
			{"gone", "", 404, []string{`pods "gone" not found`}},
			{"pending", "", 400, []string{"pod pending is not bound to a node yet"}},
			{pod.Name, "container=nope", 400, []string{"container nope is not valid", "choose one of: [counter]"}},
			{pod.Name, "timeoutSeconds=0", 400, []string{"timeoutSeconds", "must be greater than 0"}},
			{pod.Name, "timeoutSeconds=soon", 400, []string{"timeoutSeconds", "a whole number of seconds"}},
			{pod.Name, "timeout=10", 400, []string{"takes timeoutSeconds"}},
			{pod.Name, "timeoutSeconds=5&timeoutSeconds=600", 400, []string{"timeoutSeconds", "given 2 times"}},
			{pod.Name, "container=counter&follow=true", 400, []string{"follow", "not a parameter of pods/checkpoint"}},
			{pod.Name, "timeoutSeconds=86400", 400, []string{"must be at most 1800", "--checkpoint-max-timeout"}},
		} {
			req := f.ClientSet.CoreV1().RESTClient().Post().Namespace(f.Namespace.Name).Resource("pods").Name(tc.pod).SubResource("checkpoint")
			values, err := url.ParseQuery(tc.query)
			framework.ExpectNoError(err)
			for k, vs := range values {
				for _, v := range vs {
					req = req.Param(k, v)
				}
			}
			expectStatus(req.Do(ctx).Error(), tc.code, tc.words...)
		}
	})
})

func counterPod(name, node string, containers ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                      node,
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{
			Name: c, Image: *testImage, ImagePullPolicy: corev1.PullPolicy(*imagePullPolicy),
		})
	}
	return pod
}

func createPod(ctx context.Context, f *framework.Framework, pod *corev1.Pod) *corev1.Pod {
	return e2epod.NewPodClient(f).CreateSync(ctx, pod)
}

var countLine = regexp.MustCompile(`(?m)^count (\d+)$`)

// waitForCount waits until the counter in container has printed at least
// atLeast and returns the count it printed last.
func waitForCount(ctx context.Context, f *framework.Framework, pod, container string, atLeast int) int {
	var last int
	gomega.Eventually(ctx, func() (int, error) {
		logs, err := e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, pod, container)
		if err != nil {
			return 0, err
		}
		matches := countLine.FindAllStringSubmatch(logs, -1)
		if len(matches) == 0 {
			return 0, nil
		}
		last, err = strconv.Atoi(matches[len(matches)-1][1])
		return last, err
	}).WithTimeout(time.Minute).WithPolling(500 * time.Millisecond).Should(gomega.BeNumerically(">=", atLeast))
	return last
}

// inspectArchive runs "counter inspect" in a privileged pod on node that
// mounts the archives' directory, and expects each a root-only CRIU checkpoint.
func inspectArchive(ctx context.Context, f *framework.Framework, node string, archives ...string) {
	ginkgo.GinkgoHelper()
	archive := archives[0]
	args := []string{"inspect"}
	want := ""
	for _, a := range archives {
		gomega.Expect(path.Dir(a)).To(gomega.Equal(path.Dir(archive)))
		args = append(args, "/checkpoints/"+path.Base(a))
		want += fmt.Sprintf(`/checkpoints/%s: CRIU checkpoint, \d+ bytes, mode 0600, owner uid 0, [1-9]\d* CRIU images\n`, regexp.QuoteMeta(path.Base(a)))
	}
	name := fmt.Sprintf("inspect-%d", time.Now().UnixNano())
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                     node,
			RestartPolicy:                corev1.RestartPolicyNever,
			AutomountServiceAccountToken: ptr.To(false),
			Containers: []corev1.Container{{
				Name: "inspect", Image: *testImage, ImagePullPolicy: corev1.PullPolicy(*imagePullPolicy),
				Args:            args,
				SecurityContext: &corev1.SecurityContext{Privileged: ptr.To(true), RunAsUser: ptr.To[int64](0)},
				VolumeMounts:    []corev1.VolumeMount{{Name: "checkpoints", MountPath: "/checkpoints", ReadOnly: true}},
			}},
			Volumes: []corev1.Volume{{Name: "checkpoints", VolumeSource: corev1.VolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path.Dir(archive), Type: ptr.To(corev1.HostPathDirectory)},
			}}},
		},
	}
	_, err := f.ClientSet.CoreV1().Pods(f.Namespace.Name).Create(ctx, pod, metav1.CreateOptions{})
	framework.ExpectNoError(err)
	waitErr := e2epod.WaitForPodSuccessInNamespaceTimeout(ctx, f.ClientSet, name, f.Namespace.Name, 2*time.Minute)
	logs, err := e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, name, "inspect")
	framework.ExpectNoError(err)
	framework.ExpectNoError(waitErr, "inspecting %s on %s: %s", archive, node, logs)
	gomega.Expect(logs).To(gomega.MatchRegexp("^" + want + "$"))
}

// runCLI runs one of this project's command-line binaries against the
// cluster, with only their directory on PATH so kubectl finds the plugin.
func runCLI(f *framework.Framework, binary string, args ...string) (string, string, error) {
	dir, err := filepath.Abs(*binDir)
	framework.ExpectNoError(err)
	args = append(args, "--kubeconfig="+framework.TestContext.KubeConfig, "--namespace="+f.Namespace.Name)
	cmd := exec.Command(filepath.Join(dir, binary), args...)
	cmd.Env = []string{"PATH=" + dir, "HOME=" + ginkgo.GinkgoT().TempDir()}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	return stdout.String(), stderr.String(), err
}

// expectStatus expects an API error with code, the reason of that code, and
// a message holding each of words.
func expectStatus(err error, code int32, words ...string) {
	ginkgo.GinkgoHelper()
	gomega.Expect(err).To(gomega.HaveOccurred())
	expectCode(err, code)
	gomega.Expect(apierrors.ReasonForError(err)).To(gomega.Equal(testutils.ReasonOf[code]), "%v", err)
	for _, w := range words {
		gomega.Expect(err.Error()).To(gomega.ContainSubstring(w))
	}
}

func expectCode(err error, code int32) {
	ginkgo.GinkgoHelper()
	status, ok := err.(apierrors.APIStatus)
	gomega.Expect(ok).To(gomega.BeTrueBecause("%v is an API status", err))
	gomega.Expect(status.Status().Code).To(gomega.Equal(code), "%v", err)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
