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

package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

type config struct {
	kubeconfig, state, crictl, image string
	samples, rounds, sizeSamples     int
	concurrency, sizes               []int
	idleRSS, out, plot               string
	// replicaKubeconfigs reach each apiserver replica alone
	// (kubeconfig-apiserver<i> of APISERVERS=2 make local-up).
	replicaKubeconfigs []string
	// fleet is the table make bench-fleet wrote.
	fleet string
}

// The four paths of the comparison.
const (
	pathAPI     = "a"
	pathProxy   = "b"
	pathKubelet = "c"
	pathCrictl  = "d"
	// pathReplica is (a) through the first apiserver replica alone, not
	// through the load balancer.
	pathReplica = "a1"
	// pathUnasked is (a) through the second replica alone, restarted
	// asking the kubelet for no summary (--checkpoint-node-disk-reserve=).
	pathUnasked = "a2"
)

var pathNames = map[string]string{
	pathAPI:     "(a) pods/checkpoint, typed client",
	pathProxy:   "(b) nodes/{node}/proxy/checkpoint",
	pathKubelet: "(c) kubelet /checkpoint, apiserver's client cert",
	pathCrictl:  "(d) crictl checkpoint --export on the node",
	pathReplica: "(a) through one apiserver alone",
	pathUnasked: "(a) through the other apiserver alone, asking no summary",
}

const (
	namespace = "kube-checkpoint-bench"
	container = "counter"
	// spacing keeps two checkpoints of one container more than a second
	// apart: the kubelet names archives by the second, so paths (b) and (c),
	// which nothing guards, would otherwise overwrite each other's archives,
	// and (a) would wait out its own guard inside the measurement.
	spacing = 1100 * time.Millisecond
	// maxInflightPerNode is the apiserver's default
	// --checkpoint-max-inflight-per-node, which make local-up keeps.
	maxInflightPerNode = 4
)

type bench struct {
	cfg      config
	ctx      context.Context
	client   kubernetes.Interface
	pods     typedv1.PodInterface
	node     string
	kubelet  string // https://ip:port
	kubeHTTP *http.Client
	socket   string // the node's containerd socket, for crictl
	crictlN  int
	// replicas reach each apiserver alone, when there are several.
	replicas    []kubernetes.Interface
	replicaPods []typedv1.PodInterface

	mu       sync.Mutex
	archives []string // every archive the bench made, removed at the end
}

// sample is one checkpoint through one path.
type sample struct {
	took    time.Duration
	kubelet time.Duration // (a): the kubelet's part, as the result reports it
	// served is the kubelet's time by its own metric (paths that reach
	// it), zero when unknown.
	served  time.Duration
	archive string
	bytes   int64
	err     error
}

// clientsFor returns a client of config and its pods/checkpoint client.
func clientsFor(config *rest.Config) (kubernetes.Interface, typedv1.PodInterface, error) {
	config.QPS, config.Burst = 200, 400
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, nil, err
	}
	checkpoints, err := typedv1.NewForConfig(config)
	if err != nil {
		return nil, nil, err
	}
	return client, checkpoints.Pods(namespace), nil
}

func newBench(ctx context.Context, cfg config, restConfig *rest.Config) (*bench, error) {
	client, pods, err := clientsFor(restConfig)
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, ctx: ctx, client: client, pods: pods}

	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, n := range nodes.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue && b.node == "" {
				b.node = n.Name
				for _, a := range n.Status.Addresses {
					if a.Type == corev1.NodeInternalIP {
						b.kubelet = "https://" + net.JoinHostPort(a.Address, strconv.Itoa(int(n.Status.DaemonEndpoints.KubeletEndpoint.Port)))
					}
				}
			}
		}
	}
	if b.node == "" || b.kubelet == "" {
		return nil, errors.New("no Ready node with an InternalIP")
	}
	b.socket = filepath.Join(cfg.state, b.node, "containerd.sock")
	for _, kubeconfig := range cfg.replicaKubeconfigs {
		config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, err
		}
		client, pods, err := clientsFor(config)
		if err != nil {
			return nil, err
		}
		b.replicas = append(b.replicas, client)
		b.replicaPods = append(b.replicaPods, pods)
	}

	// Path (c) dials the kubelet as the apiserver does: its kubelet client
	// certificate, the cluster CA, connections kept alive.
	pki := filepath.Join(cfg.state, "pki")
	cert, err := tls.LoadX509KeyPair(filepath.Join(pki, "apiserver-kubelet-client.crt"), filepath.Join(pki, "apiserver-kubelet-client.key"))
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(filepath.Join(pki, "ca.crt"))
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	b.kubeHTTP = &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: roots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 64,
	}}
	return b, nil
}

// run measures everything and returns the report; on an error it returns what
// was measured so far.
func (b *bench) run() (*report, error) {
	r := &report{cfg: b.cfg, node: b.node, started: time.Now()}
	if v, err := b.client.Discovery().ServerVersion(); err == nil {
		r.serverVersion = v.GitVersion
	}
	if b.cfg.idleRSS != "" {
		rss, err := readIdleRSS(b.cfg.idleRSS)
		if err != nil {
			return nil, err
		}
		r.idle = rss
	}
	if err := b.setUp(); err != nil {
		return nil, err
	}

	log("paths: %d checkpoints of pod %s/bench through each of (a) (b) (c) (d), interleaved", b.cfg.samples, namespace)
	pod, err := b.client.CoreV1().Pods(namespace).Get(b.ctx, "bench", metav1.GetOptions{})
	if err != nil {
		return r, err
	}
	r.paths = map[string][]sample{}
	_ = b.interleave(pod, []string{pathAPI, pathProxy, pathKubelet, pathCrictl}, b.cfg.samples, func(path string, s sample) error {
		r.paths[path] = append(r.paths[path], s)
		if s.err != nil {
			log("  %s: %v", path, s.err)
		}
		return nil
	}, func() {
		// For reference: the cheapest request that also reads the pod
		// from etcd, as pods/checkpoint must.
		start := time.Now()
		_, err := b.client.CoreV1().Pods(namespace).Get(b.ctx, pod.Name, metav1.GetOptions{})
		r.podGets = append(r.podGets, sample{took: time.Since(start), err: err})
	})
	r.lost = b.lost(r.paths[pathAPI])

	if r.concurrency, err = b.sweep(b.cfg.concurrency, []typedv1.PodInterface{b.pods}, "concurrency"); err != nil {
		return r, err
	}

	if len(b.replicas) > 1 {
		if r.ha, err = b.ha(); err != nil {
			return r, err
		}
		if r.disk, err = b.disk(); err != nil {
			return r, err
		}
	}

	for _, mib := range b.cfg.sizes {
		log("memory: a container holding %d MiB, %d checkpoints through (a) and (d)", mib, b.cfg.sizeSamples)
		m, err := b.memory(mib)
		if err != nil {
			return r, err
		}
		r.memory = append(r.memory, m)
	}
	r.finished = time.Now()
	return r, nil
}

// setUp makes the namespace, the pod of the path comparison and the pods of
// the concurrency sweep, all on one node, and waits for them to run.
func (b *bench) setUp() error {
	if err := b.deleteNamespace(); err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}
	if _, err := b.client.CoreV1().Namespaces().Create(b.ctx, ns, metav1.CreateOptions{}); err != nil {
		return err
	}
	names := []string{"bench"}
	for i := 0; i < maxOf(b.cfg.concurrency); i++ {
		names = append(names, fmt.Sprintf("conc-%d", i))
	}
	for _, name := range names {
		if _, err := b.client.CoreV1().Pods(namespace).Create(b.ctx, b.counterPod(name, 0), metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	for _, name := range names {
		if _, err := b.waitRunning(name); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) counterPod(name string, holdMiB int) *corev1.Pod {
	c := corev1.Container{Name: container, Image: b.cfg.image, ImagePullPolicy: corev1.PullNever}
	if holdMiB > 0 {
		c.Args = []string{"-hold-mib", strconv.Itoa(holdMiB)}
	}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:                      b.node,
			Containers:                    []corev1.Container{c},
			AutomountServiceAccountToken:  ptr.To(false),
			TerminationGracePeriodSeconds: ptr.To[int64](1),
		},
	}
}

func (b *bench) waitRunning(name string) (*corev1.Pod, error) {
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(b.ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		var err error
		pod, err = b.client.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return pod.Status.Phase == corev1.PodRunning && len(pod.Status.ContainerStatuses) == 1 && pod.Status.ContainerStatuses[0].State.Running != nil, nil
	})
	if err != nil {
		return nil, fmt.Errorf("pod %s did not start: %w", name, err)
	}
	return pod, nil
}

// checkpoint takes one checkpoint of the pod's container through path.
func (b *bench) checkpoint(path string, pod *corev1.Pod) sample {
	var s sample
	start := time.Now()
	switch path {
	case pathAPI:
		return b.checkpointThrough(b.pods, pod)
	case pathReplica:
		return b.checkpointThrough(b.replicaPods[0], pod)
	case pathUnasked:
		return b.checkpointThrough(b.replicaPods[1], pod)
	case pathProxy:
		var raw []byte
		raw, s.err = b.client.CoreV1().RESTClient().Post().
			AbsPath("/api/v1/nodes", b.node, "proxy", "checkpoint", namespace, pod.Name, container).DoRaw(b.ctx)
		s.took = time.Since(start)
		if s.err == nil {
			s.archive, s.err = kubeletArchive(raw)
		}
	case pathKubelet:
		var raw []byte
		raw, s.err = b.postKubelet(pod.Name)
		s.took = time.Since(start)
		if s.err == nil {
			s.archive, s.err = kubeletArchive(raw)
		}
	case pathCrictl:
		b.crictlN++
		s.archive = filepath.Join(b.cfg.state, b.node, "kubelet", "checkpoints", fmt.Sprintf("crictl-%s-%d.tar", pod.Name, b.crictlN))
		id := strings.TrimPrefix(pod.Status.ContainerStatuses[0].ContainerID, "containerd://")
		cmd := exec.CommandContext(b.ctx, b.cfg.crictl, "--runtime-endpoint", "unix://"+b.socket, "--timeout", "30m",
			"checkpoint", "--export", s.archive, id)
		out, err := cmd.CombinedOutput()
		s.took = time.Since(start)
		if err != nil {
			s.err = fmt.Errorf("crictl: %v: %s", err, lastLine(out))
		}
	}
	return b.keep(s)
}

// checkpointThrough takes one checkpoint of the pod's container through
// pods/checkpoint of the apiserver that pods reaches.
func (b *bench) checkpointThrough(pods typedv1.PodInterface, pod *corev1.Pod) sample {
	var s sample
	start := time.Now()
	result, err := pods.Checkpoint(b.ctx, pod.Name, &checkpointv1.PodCheckpointOptions{Container: container})
	s.took, s.err = time.Since(start), err
	if err == nil {
		s.kubelet = time.Duration(result.DurationMilliseconds) * time.Millisecond
		s.archive = firstOf(result.ArchivePaths)
	}
	return b.keep(s)
}

// keep notes the archive of a checkpoint that succeeded, to remove it at the
// end, and checks that it is where it was reported.
func (b *bench) keep(s sample) sample {
	if s.err == nil {
		b.mu.Lock()
		b.archives = append(b.archives, s.archive)
		b.mu.Unlock()
		info, err := os.Stat(s.archive)
		if err != nil {
			s.err = fmt.Errorf("the reported archive is not there: %w", err)
		} else {
			s.bytes = info.Size()
		}
	}
	return s
}

func (b *bench) postKubelet(pod string) ([]byte, error) {
	return b.askKubelet(http.MethodPost, "/checkpoint/"+namespace+"/"+pod+"/"+container)
}

// askKubelet sends method path to the node's kubelet as the apiserver does
// (its client certificate) and returns the body of a 200.
func (b *bench) askKubelet(method, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(b.ctx, method, b.kubelet+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := b.kubeHTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close() //nolint:errcheck
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kubelet %s %s: HTTP %d: %s", method, path, resp.StatusCode, bytes.TrimSpace(raw))
	}
	return raw, nil
}

// kubeletArchive reads the kubelet's answer, {"items":["/path/archive.tar"]}.
func kubeletArchive(raw []byte) (string, error) {
	var answer struct {
		Items []string `json:"items"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil || len(answer.Items) == 0 {
		return "", fmt.Errorf("unexpected kubelet answer %q", raw)
	}
	return answer.Items[0], nil
}

// lost counts the archives pods/checkpoint reported that are no longer where
// it said, at their reported size: none may be.
func (b *bench) lost(samples []sample) int {
	lost := 0
	for _, s := range samples {
		if s.err != nil {
			continue
		}
		if info, err := os.Stat(s.archive); err != nil || info.Size() != s.bytes {
			lost++
		}
	}
	return lost
}

// concurrencyLevel is k distinct pods checkpointed at once, several rounds.
type concurrencyLevel struct {
	pods, requests, errors int
	walls                  []time.Duration
	latencies              []time.Duration
	// busy is, per round, how much of the node's places the round used:
	// the kubelet's time of its checkpoints over min(pods, the bound) times
	// its wall time.
	busy       []float64
	refused    float64 // 429s the apiserver answered (client-go retried them)
	firstError string
}

// sweep checkpoints k pods at once for each k of levels, cfg.rounds rounds
// each, pod i through through[i%len(through)]. The levels take turns round by
// round, each going first in turn, so that a slow spell of the machine falls
// on every level alike rather than on one.
func (b *bench) sweep(levels []int, through []typedv1.PodInterface, what string) ([]concurrencyLevel, error) {
	pods := make([]*corev1.Pod, maxOf(levels))
	for i := range pods {
		var err error
		if pods[i], err = b.client.CoreV1().Pods(namespace).Get(b.ctx, fmt.Sprintf("conc-%d", i), metav1.GetOptions{}); err != nil {
			return nil, err
		}
	}
	out := make([]concurrencyLevel, len(levels))
	for i, k := range levels {
		out[i].pods = k
	}
	log("%s: %v pods at once, %d rounds, levels in turn", what, levels, b.cfg.rounds)
	for round := range b.cfg.rounds {
		for j := range levels {
			level := &out[(j+round)%len(levels)]
			if err := b.concurrentRound(level, pods[:level.pods], through); err != nil {
				return out, err
			}
			log("  round %d: %d pods in %s s, the node's places %.0f%% busy", round+1, level.pods,
				sec(level.walls[len(level.walls)-1]), 100*level.busy[len(level.busy)-1])
		}
	}
	return out, nil
}

// concurrentRound checkpoints pods at once, pod i through through[i%len(through)],
// and adds the round to level.
func (b *bench) concurrentRound(level *concurrencyLevel, pods []*corev1.Pod, through []typedv1.PodInterface) error {
	before, err := b.refused()
	if err != nil {
		return err
	}
	time.Sleep(spacing)
	samples := make([]sample, len(pods))
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			samples[i] = b.checkpointThrough(through[i%len(through)], pods[i])
		}()
	}
	start := time.Now()
	close(gate)
	wg.Wait()
	wall := time.Since(start)
	level.walls = append(level.walls, wall)
	var kubelet time.Duration
	for _, s := range samples {
		level.requests++
		kubelet += s.kubelet
		if s.err != nil {
			level.errors++
			if level.firstError == "" {
				level.firstError = s.err.Error()
			}
			continue
		}
		level.latencies = append(level.latencies, s.took)
	}
	level.busy = append(level.busy, kubelet.Seconds()/(float64(min(len(pods), maxInflightPerNode))*wall.Seconds()))
	b.removeArchives()
	after, err := b.refused()
	if err != nil {
		return err
	}
	level.refused += after - before
	return nil
}

// refused reads apiserver_pod_checkpoint_refused_total{code="429"}, summed
// over every apiserver replica.
func (b *bench) refused() (float64, error) {
	total := 0.0
	err := b.eachMetrics(func(text string) error {
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, `apiserver_pod_checkpoint_refused_total{code="429"} `); ok {
				v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
				total += v
				return err
			}
		}
		return nil
	})
	return total, err
}

// eachMetrics calls f with the /metrics text of every apiserver: each
// replica's when the bench knows them, else the one the client reaches.
func (b *bench) eachMetrics(f func(text string) error) error {
	clients := b.replicas
	if len(clients) == 0 {
		clients = []kubernetes.Interface{b.client}
	}
	for _, c := range clients {
		raw, err := c.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(b.ctx)
		if err != nil {
			return err
		}
		if err := f(string(raw)); err != nil {
			return err
		}
	}
	return nil
}

// memoryLevel is a container holding mib MiB, checkpointed through (a) and (d).
type memoryLevel struct {
	mib     int
	samples map[string][]sample
	// estimate is the apiserver's estimate of the archive from the
	// kubelet's summary (--checkpoint-node-disk-reserve).
	estimate uint64
}

func (b *bench) memory(mib int) (memoryLevel, error) {
	m := memoryLevel{mib: mib, samples: map[string][]sample{}}
	name := fmt.Sprintf("mem-%d", mib)
	if _, err := b.client.CoreV1().Pods(namespace).Create(b.ctx, b.counterPod(name, mib), metav1.CreateOptions{}); err != nil {
		return m, err
	}
	defer func() {
		_ = b.client.CoreV1().Pods(namespace).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)})
	}()
	pod, err := b.waitRunning(name)
	if err != nil {
		return m, err
	}
	// The counter prints "holding N MiB" once every page is written.
	err = wait.PollUntilContextTimeout(b.ctx, 250*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		logs, err := b.client.CoreV1().Pods(namespace).GetLogs(name, &corev1.PodLogOptions{Container: container}).DoRaw(ctx)
		return err == nil && bytes.Contains(logs, []byte(fmt.Sprintf("holding %d MiB", mib))), nil
	})
	if err != nil {
		return m, fmt.Errorf("pod %s never held %d MiB: %w", name, mib, err)
	}
	if m.estimate, err = b.estimate(name, mib); err != nil {
		return m, err
	}
	err = b.interleave(pod, []string{pathAPI, pathCrictl}, b.cfg.sizeSamples, func(path string, s sample) error {
		if s.err != nil {
			return fmt.Errorf("%s of %d MiB: %w", path, mib, s.err)
		}
		m.samples[path] = append(m.samples[path], s)
		b.removeArchives() // a GiB each: keep the disk free
		return nil
	}, nil)
	return m, err
}

// interleave takes rounds checkpoints of the pod through each path of order,
// each path going first in turn and every checkpoint spacing after the one
// before, and hands each to record; afterRound, if not nil, runs after each
// round. It stops at the first error record returns.
func (b *bench) interleave(pod *corev1.Pod, order []string, rounds int, record func(path string, s sample) error, afterRound func()) error {
	last := time.Time{}
	before, err := b.served()
	if err != nil {
		log("  the kubelet's metrics: %v", err)
	}
	for i := 0; i < rounds; i++ {
		for j := range order {
			path := order[(i+j)%len(order)]
			time.Sleep(time.Until(last.Add(spacing)))
			s := b.checkpoint(path, pod)
			last = time.Now()
			// Read in the spacing, not beside a checkpoint.
			if after, err := b.served(); err == nil {
				s.served, before = after.since(before), after
			}
			if err := record(path, s); err != nil {
				return err
			}
		}
		if afterRound != nil {
			afterRound()
		}
	}
	return nil
}

func (b *bench) removeArchives() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.archives {
		_ = os.Remove(a)
	}
	b.archives = nil
}

func (b *bench) cleanup() error {
	b.removeArchives()
	return b.deleteNamespace()
}

func (b *bench) deleteNamespace() error {
	ctx := context.Background()
	err := b.client.CoreV1().Namespaces().Delete(ctx, namespace, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 500*time.Millisecond, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := b.client.CoreV1().Namespaces().Get(ctx, namespace, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
}

func maxOf(v []int) int {
	m := 0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

func log(format string, args ...any) {
	fmt.Printf("%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// served is what the kubelet's own metric says it spent on the checkpoints it
// served so far: kubelet_http_requests_duration_seconds, path "checkpoint",
// from its handler's start to its end (its authorization and the runtime's
// checkpoint; neither the network nor TLS). It is the same for every path
// that reaches the kubelet, so that the client's time less it is each path's
// own part, apart from how long the node took.
type served struct {
	seconds float64
	count   uint64
}

// served reads the kubelet's /metrics, as the apiserver may.
func (b *bench) served() (served, error) {
	raw, err := b.askKubelet(http.MethodGet, "/metrics")
	if err != nil {
		return served{}, err
	}
	return checkpointsServed(raw)
}

// checkpointsServed finds the sum and the count of the kubelet's POST
// /checkpoint requests in its metrics text.
func checkpointsServed(metrics []byte) (served, error) {
	var s served
	found := 0
	for _, line := range strings.Split(string(metrics), "\n") {
		name, rest, ok := strings.Cut(line, "{")
		if !ok || !strings.HasPrefix(name, "kubelet_http_requests_duration_seconds_") {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok || !strings.Contains(labels, `path="checkpoint"`) || !strings.Contains(labels, `method="POST"`) {
			continue
		}
		var err error
		switch strings.TrimPrefix(name, "kubelet_http_requests_duration_seconds_") {
		case "sum":
			s.seconds, err = strconv.ParseFloat(strings.TrimSpace(value), 64)
			found++
		case "count":
			s.count, err = strconv.ParseUint(strings.TrimSpace(value), 10, 64)
			found++
		}
		if err != nil {
			return served{}, fmt.Errorf("kubelet metrics: %q: %v", line, err)
		}
	}
	if found == 0 {
		// No checkpoint served yet: the series does not exist.
		return served{}, nil
	}
	if found != 2 {
		return served{}, fmt.Errorf("kubelet metrics: want one sum and one count of POST /checkpoint, found %d lines", found)
	}
	return s, nil
}

// since is the time of the one checkpoint served between before and s, or
// zero when there were none or several.
func (s served) since(before served) time.Duration {
	if s.count != before.count+1 {
		return 0
	}
	return time.Duration((s.seconds - before.seconds) * float64(time.Second))
}
