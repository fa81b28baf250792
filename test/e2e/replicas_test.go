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
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/onsi/ginkgo/v2"
	"github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/kubernetes/test/e2e/framework"
	e2epod "k8s.io/kubernetes/test/e2e/framework/pod"
	admissionapi "k8s.io/pod-security-admission/api"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/features"
	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

var _ = framework.Describe("pods/checkpoint across apiserver replicas", framework.WithFeatureGate(features.ContainerCheckpointAPI), func() {
	f := framework.NewDefaultFramework("checkpoint-replicas")
	f.NamespacePodSecurityLevel = admissionapi.LevelPrivileged

	// replicas checkpoint through one apiserver replica each.
	var replicas []typedv1.PodInterface
	ginkgo.BeforeEach(func() {
		configs := replicaConfigs()
		if *kindCluster != "" {
			ginkgo.Skip("needs two apiservers, each reached directly: make kind-up runs one (APISERVERS=2 make local-up runs two)")
		}
		if len(configs) < 2 {
			ginkgo.Skip(fmt.Sprintf("needs a cluster with two apiservers whose kubeconfigs the suite has (APISERVERS=2 make local-up and --local-up-state); found %d", len(configs)))
		}
		replicas = nil
		for _, config := range configs[:2] {
			replicas = append(replicas, typedv1.NewForConfigOrDie(config).Pods(f.Namespace.Name))
		}
	})

	ginkgo.It("gives back-to-back checkpoints through alternating replicas an archive each, with its own content", func(ctx context.Context) {
		pod := createPod(ctx, f, counterPod("counter", "", "counter"))
		var archives []string
		sums := map[[sha256.Size]byte]string{}
		for i := range 10 {
			result, err := replicas[i%2].Checkpoint(ctx, pod.Name, nil)
			framework.ExpectNoError(err, "checkpoint %d, through replica %d", i, i%2+1)
			archive := result.ArchivePaths[0]
			gomega.Expect(archives).NotTo(gomega.ContainElement(archive), "checkpoint %d reported the archive of an earlier one", i)
			archives = append(archives, archive)
			// An archive overwritten later would show as a changed checksum below.
			sum := sha256.Sum256(nodeAccess().readFile(result.NodeName, archive))
			gomega.Expect(sums).NotTo(gomega.HaveKey(sum), "archive %s has the content of %s", archive, sums[sum])
			sums[sum] = archive
		}
		for sum, archive := range sums {
			content := nodeAccess().readFile(pod.Spec.NodeName, archive)
			gomega.Expect(sha256.Sum256(content)).To(gomega.Equal(sum), "archive %s changed after it was reported", archive)
		}
		inspectArchive(ctx, f, pod.Spec.NodeName, archives...)
	})

	ginkgo.It("answers two checkpoints of one container at once through different replicas with one 200 and one 409", func(ctx context.Context) {
		// A container whose checkpoint lasts well over the 300 ms between
		// the two, so that they overlap.
		spec := counterPod("counter", "", "counter")
		spec.Spec.Containers[0].Args = []string{"-hold-mib", "256"}
		pod := createPod(ctx, f, spec)
		waitForLog(ctx, f, pod.Name, "holding 256 MiB")
		for round := range 5 {
			// After the previous round's claim was given back (a second
			// after its checkpoint ended): otherwise both would wait for it,
			// and either could be the one that gets it.
			gomega.Eventually(ctx, func() (int, error) {
				claims, _, err := containerClaims(ctx, f, pod.Name)
				return claims, err
			}).WithTimeout(10*time.Second).WithPolling(50*time.Millisecond).Should(gomega.BeZero(), "round %d: the claim of the previous round was not given back", round)
			first := make(chan error, 1)
			go func() {
				_, err := replicas[round%2].Checkpoint(ctx, pod.Name, nil)
				first <- err
			}()
			// The second is asked while the first holds the container's
			// claim, however long the machine takes to write it.
			gomega.Eventually(ctx, func() (int, error) {
				_, inFlight, err := containerClaims(ctx, f, pod.Name)
				return inFlight, err
			}).WithTimeout(10*time.Second).WithPolling(20*time.Millisecond).Should(gomega.Equal(1), "round %d: the first checkpoint never held the container's claim", round)
			_, err := replicas[(round+1)%2].Checkpoint(ctx, pod.Name, nil)
			expectStatus(err, 409, "a checkpoint of container counter is already in progress (served by ", "its archive would be overwritten")
			framework.ExpectNoError(<-first, "round %d: the first checkpoint", round)
		}
	})

	framework.It("lets the other replica checkpoint a container whose checkpoint died with its replica once the claim expires, and leaves the container running and thawed", framework.WithSerial(), framework.WithDisruptive(), func(ctx context.Context) {
		// A dump of seconds, long enough for the kill to land in it
		// (waitFrozen), and not the minutes of createSlowPod's: the
		// checkpoint after the expiry writes an archive of it too.
		pod := createHoldingPod(ctx, f, "slow", 1024)
		timeout := 20 * time.Second
		done := make(chan error, 1)
		started := time.Now() // the dead replica writes its claim after this
		go func() {
			_, err := replicas[1].Checkpoint(ctx, pod.Name, &checkpointv1.PodCheckpointOptions{TimeoutSeconds: ptr.To(int64(timeout.Seconds()))})
			done <- err
		}()
		waitFrozen(pod) // CRIU is dumping, through replica 2
		replica := stopDaemon(apiserverDaemon(2), syscall.SIGKILL)
		killed := time.Now()
		ginkgo.DeferCleanup(replica.restart)
		var err error
		gomega.Eventually(done).WithTimeout(10 * time.Second).Should(gomega.Receive(&err))
		gomega.Expect(err).To(gomega.HaveOccurred())
		// At once, before the node has been looked at: the dead replica's
		// claim holds the container.
		conflicted := time.Now()
		_, err = replicas[0].Checkpoint(ctx, pod.Name, nil)
		expectStatus(err, 409, "already in progress (served by ")
		expectUnharmed(ctx, f, pod)

		// Its claim holds the container until the checkpoint's timeout and
		// the kubelet's grace have passed: 409 until then, and then a
		// checkpoint through the other replica.
		expiry := timeout + podrest.KubeletGrace
		var result *checkpointv1.PodCheckpointResult
		var succeeded time.Time
		gomega.Eventually(ctx, func() error {
			asked := time.Now()
			result, err = replicas[0].Checkpoint(ctx, pod.Name, &checkpointv1.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](120)})
			framework.Logf("a checkpoint asked %s after the kill, answered %s later: %v", asked.Sub(killed).Round(time.Millisecond), time.Since(asked).Round(time.Millisecond), err)
			if err != nil {
				expectStatus(err, 409, "already in progress (served by ")
				conflicted = asked
				return err
			}
			succeeded = asked
			return nil
		}).WithTimeout(expiry + 2*time.Minute).WithPolling(time.Second).Should(gomega.Succeed())
		// The claim, written after started, held until its expiry: the
		// kubelet was asked for the next checkpoint only after it (one asked
		// within its grace before the expiry waits for it). The result's
		// time is whole seconds, so it reads up to a second early.
		kubeletAsked := result.CheckpointTime.Add(-time.Duration(result.DurationMilliseconds) * time.Millisecond)
		gomega.Expect(kubeletAsked.Sub(started)).To(gomega.BeNumerically(">=", expiry-2*time.Second), "the claim of the dead replica did not hold the container until its expiry: the kubelet was asked for a checkpoint %s after the dead one went through (the checkpoint was asked %s after)", kubeletAsked.Sub(started), succeeded.Sub(started))
		// The last 409 is for a checkpoint asked before the expiry (a busy
		// machine may answer it seconds later).
		gomega.Expect(conflicted.Sub(killed)).To(gomega.BeNumerically("<=", expiry+2*time.Second), "the claim of the dead replica outlived its expiry: a checkpoint asked %s after the kill got 409", conflicted.Sub(killed))
		inspectArchive(ctx, f, result.NodeName, result.ArchivePaths[0])
		nodeAccess().remove(result.NodeName, result.ArchivePaths[0]) // 1 GiB: keep the node's disk free
	})

	framework.It("holds --checkpoint-max-inflight-per-node over both replicas", framework.WithSerial(), framework.WithDisruptive(), func(ctx context.Context) {
		slow := createSlowPod(ctx, f, "slow")
		small := createPod(ctx, f, counterPod("small", slow.Spec.NodeName, "counter"))
		// Every replica restarted with a bound of one checkpoint per node
		// and no wait, then as they were.
		configs := replicaConfigs()
		restartAPIServers(ctx, f, "--checkpoint-max-inflight-per-node=1", "--checkpoint-inflight-wait=0s")

		done := make(chan error, 1)
		go func() {
			_, err := replicas[0].Checkpoint(ctx, slow.Name, &checkpointv1.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](2)})
			done <- err
		}()
		waitFrozen(slow) // CRIU is dumping, through replica 1
		// Through replica 2, without client-go's retries of a 429.
		err := kubernetes.NewForConfigOrDie(configs[1]).CoreV1().RESTClient().Post().
			AbsPath("/api/v1/namespaces", f.Namespace.Name, "pods", small.Name, "checkpoint").MaxRetries(0).Do(ctx).Error()
		select {
		case slowErr := <-done:
			framework.Failf("the checkpoint through replica 1 ended within 2 s (%v), and the one through replica 2 got %v", slowErr, err)
		default:
		}
		expectStatus(err, 429, fmt.Sprintf("node %s already has 1 checkpoints in flight", slow.Spec.NodeName), "counted over every apiserver")
		gomega.Eventually(done).WithTimeout(time.Minute).Should(gomega.Receive(&err))
		expectStatus(err, 504, "did not complete within 2s")
		// The place is given back: the other pod of the node, through replica 2.
		result, err := replicas[1].Checkpoint(ctx, small.Name, nil)
		framework.ExpectNoError(err)
		inspectArchive(ctx, f, result.NodeName, result.ArchivePaths[0])
	})

	ginkgo.It("leaves no claim behind after 100 checkpoints through both replicas", func(ctx context.Context) {
		const pods, each = 5, 20
		var names []string
		for i := range pods {
			names = append(names, createPod(ctx, f, counterPod("counter-"+strconv.Itoa(i), "", "counter")).Name)
		}
		var wg sync.WaitGroup
		errs := make(chan error, pods*each)
		for i, name := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer ginkgo.GinkgoRecover()
				for j := range each {
					if _, err := replicas[(i+j)%2].Checkpoint(ctx, name, nil); err != nil {
						errs <- fmt.Errorf("%s, checkpoint %d: %w", name, j, err)
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			framework.Failf("%v", err)
		}
		gomega.Eventually(ctx, func() ([]string, error) {
			return testutils.ClaimNames(ctx, f.ClientSet)
		}).WithTimeout(10 * time.Second).WithPolling(500 * time.Millisecond).Should(gomega.BeEmpty())
	})
})

// containerClaims counts the checkpoints of the containers of pod in the
// spec's namespace that the claims list, and those of them whose end is not
// listed (in flight, or answered less than a second ago).
func containerClaims(ctx context.Context, f *framework.Framework, pod string) (claims, inFlight int, err error) {
	listed, err := testutils.ClaimedCheckpoints(ctx, f.ClientSet)
	if err != nil {
		return 0, 0, err
	}
	for _, c := range listed {
		if c.Pod != f.Namespace.Name+"/"+pod {
			continue
		}
		claims++
		if c.Ended == nil {
			inFlight++
		}
	}
	return claims, inFlight, nil
}

// replicaConfigs are the client configs of each apiserver replica of a make
// local-up cluster (kubeconfig-apiserver<i>), none elsewhere.
func replicaConfigs() []*rest.Config {
	if *localUpState == "" {
		return nil
	}
	var configs []*rest.Config
	for i := 1; ; i++ {
		path := filepath.Join(*localUpState, fmt.Sprintf("kubeconfig-apiserver%d", i))
		if _, err := os.Stat(path); err != nil {
			return configs
		}
		config, err := clientcmd.BuildConfigFromFlags("", path)
		framework.ExpectNoError(err)
		configs = append(configs, config)
	}
}

// restartAPIServers restarts every apiserver of the cluster with extra
// flags, and as it was after the spec.
func restartAPIServers(ctx context.Context, f *framework.Framework, extra ...string) {
	ginkgo.GinkgoHelper()
	configs := replicaConfigs()
	if len(configs) == 0 {
		configs = []*rest.Config{f.ClientConfig()}
	}
	var daemons []*daemon
	for i := range configs {
		daemons = append(daemons, stopDaemon(apiserverDaemon(i+1), syscall.SIGTERM))
	}
	ginkgo.DeferCleanup(func(ctx context.Context) {
		for _, d := range daemons {
			if d.running {
				d.stop(syscall.SIGTERM)
			}
			d.start()
		}
		waitReady(ctx, configs)
	})
	for _, d := range daemons {
		d.start(extra...)
	}
	waitReady(ctx, configs)
}

// apiserverDaemon is the local-up daemon name of replica i.
func apiserverDaemon(i int) string {
	if i == 1 {
		return "kube-apiserver"
	}
	return fmt.Sprintf("kube-apiserver-%d", i)
}

// waitForLog waits until the pod's counter has printed text.
func waitForLog(ctx context.Context, f *framework.Framework, pod, text string) {
	ginkgo.GinkgoHelper()
	gomega.Eventually(ctx, func() (string, error) {
		return e2epod.GetPodLogs(ctx, f.ClientSet, f.Namespace.Name, pod, "counter")
	}).WithTimeout(2 * time.Minute).WithPolling(500 * time.Millisecond).Should(gomega.ContainSubstring(text))
}

// waitReady waits until every apiserver of configs is ready, and every node
// Ready again: while no apiserver answered, the kubelets could not post their
// status, and a node marked Ready=Unknown meanwhile is refused checkpoints
// (--checkpoint-refuse-node-conditions) until its kubelet posts again.
func waitReady(ctx context.Context, configs []*rest.Config) {
	ginkgo.GinkgoHelper()
	for _, config := range configs {
		client := kubernetes.NewForConfigOrDie(config)
		gomega.Eventually(ctx, func() error {
			return client.CoreV1().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(gomega.Succeed())
		// A checkpoint reads its pod and node from the watch cache, which
		// answers 429 (and client-go waits a second) until it has loaded.
		gomega.Eventually(ctx, func() error {
			if _, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0"}); err != nil {
				return err
			}
			_, err := client.CoreV1().Pods("").List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 1})
			return err
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(gomega.Succeed())
	}
	// Every kubelet has renewed its Lease since (so the node monitor will not
	// mark its node Ready=Unknown for the time no apiserver answered) and
	// reports its node Ready.
	since := time.Now()
	client := kubernetes.NewForConfigOrDie(configs[0])
	gomega.Eventually(ctx, func() ([]string, error) {
		nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			return nil, err
		}
		var notReady []string
		for _, n := range nodes.Items {
			ready := false
			for _, c := range n.Status.Conditions {
				ready = ready || (c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue)
			}
			lease, err := client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(ctx, n.Name, metav1.GetOptions{})
			if err != nil {
				return nil, err
			}
			if !ready || lease.Spec.RenewTime == nil || lease.Spec.RenewTime.Time.Before(since) {
				notReady = append(notReady, n.Name)
			}
		}
		return notReady, nil
	}).WithTimeout(2*time.Minute).WithPolling(time.Second).Should(gomega.BeEmpty(), "nodes not Ready")
}
