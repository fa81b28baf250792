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
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"

	"k8s.io/kubernetes/test/e2e/framework"
	admissionapi "k8s.io/pod-security-admission/api"

	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

var (
	localUpState  = flag.String("local-up-state", "", "state directory of a make local-up cluster; enables the specs that stop and restart its kubelets")
	localUpPrefix = flag.String("local-up-prefix", "kc", "prefix of the network namespaces of that cluster (LOCAL_UP_PREFIX)")
)

var _ = ginkgo.Describe("pods/checkpoint faults", func() {
	f := framework.NewDefaultFramework("checkpoint-faults")
	f.NamespacePodSecurityLevel = admissionapi.LevelPrivileged

	ginkgo.It("answers 503 within seconds while the pod's kubelet is down, and checkpoints again once it is back", func(ctx context.Context) {
		if *localUpState == "" {
			ginkgo.Skip("needs a make local-up cluster whose kubelets the suite may stop (--local-up-state)")
		}
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		checkpoints := typedv1.NewForConfigOrDie(f.ClientConfig()).Pods(f.Namespace.Name)

		restart := stopKubelet(pod.Spec.NodeName)
		stopped := true
		ginkgo.DeferCleanup(func() {
			if stopped {
				restart()
			}
		})
		start := time.Now()
		_, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
		gomega.Expect(err).To(gomega.HaveOccurred())
		gomega.Expect(err.Error()).To(gomega.HavePrefix("cannot reach the kubelet of node %s: ", pod.Spec.NodeName))
		gomega.Expect(err.Error()).To(gomega.ContainSubstring("connection refused"))
		expectCode(err, 503)
		gomega.Expect(time.Since(start)).To(gomega.BeNumerically("<", 10*time.Second))

		restart()
		stopped = false
		// The container ran on while its kubelet was away.
		before := waitForCount(ctx, f, pod.Name, "counter", 1)
		gomega.Eventually(ctx, func() error {
			_, err := checkpoints.Checkpoint(ctx, pod.Name, nil)
			return err
		}).WithTimeout(time.Minute).WithPolling(time.Second).Should(gomega.Succeed())
		waitForCount(ctx, f, pod.Name, "counter", before+5)
	})
})

// stopKubelet stops the kubelet of a local-up node and returns a function
// that starts it again with the same command line and environment.
func stopKubelet(node string) func() {
	ginkgo.GinkgoHelper()
	pidFile := filepath.Join(*localUpState, "pids", node+"-kubelet")
	raw, err := os.ReadFile(pidFile)
	framework.ExpectNoError(err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	framework.ExpectNoError(err)
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	framework.ExpectNoError(err)
	environ, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	framework.ExpectNoError(err)
	framework.ExpectNoError(syscall.Kill(pid, syscall.SIGTERM))
	gomega.Eventually(func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		return os.IsNotExist(err)
	}).WithTimeout(30 * time.Second).Should(gomega.BeTrue())

	return func() {
		ginkgo.GinkgoHelper()
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		cmd := exec.Command("nsenter", append([]string{"--net=/var/run/netns/" + *localUpPrefix + "-" + node}, args...)...)
		cmd.Env = strings.Split(strings.TrimRight(string(environ), "\x00"), "\x00")
		log, err := os.OpenFile(filepath.Join(*localUpState, "logs", node+"-kubelet.log"), os.O_APPEND|os.O_WRONLY, 0o644)
		framework.ExpectNoError(err)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		framework.ExpectNoError(cmd.Start())
		framework.ExpectNoError(os.WriteFile(pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644))
		framework.ExpectNoError(cmd.Process.Release())
		_ = log.Close()
	}
}
