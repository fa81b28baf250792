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

package checkpoint

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// fleetKubeletTime is how long a kubelet stand-in of the fleet takes to
// answer a checkpoint.
const fleetKubeletTime = 50 * time.Millisecond

// BenchmarkFleet simulates a fleet that one machine cannot hold as real
// nodes: FLEET_NODES (default 10,100) TLS kubelet stand-ins registered as
// Nodes, and FLEET_CHECKPOINTS (default 1000) checkpoints spread over 100
// pods on them, through two apiservers on one etcd at once (each pod's
// checkpoints alternate replicas, each a little over a second after the
// previous one ended, from random offsets). For each fleet size it reports the API writes of the claims per
// checkpoint, the apiserver's own time per checkpoint (what the client waited
// beyond the kubelet's answer; the claims' writes are in it), the apiservers'
// CPU seconds and live heap after, and the claims left behind. It writes the
// table to FLEET_OUT when set.
//
//	make bench-fleet
func BenchmarkFleet(b *testing.B) {
	sizes, err := envInts("FLEET_NODES", "10,100")
	if err != nil {
		b.Fatal(err)
	}
	total, err := envInts("FLEET_CHECKPOINTS", "1000")
	if err != nil {
		b.Fatal(err)
	}
	var rows []fleetRow
	for _, nodes := range sizes {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				row := runFleet(b, nodes, total[0], fmt.Sprintf("/fleet-%d-%d-%d", nodes, b.N, i))
				b.ReportMetric(row.writesPerCheckpoint, "writes/checkpoint")
				b.ReportMetric(row.p50, "ms-p50-apiserver")
				b.ReportMetric(row.p99, "ms-p99-apiserver")
				b.ReportMetric(row.cpuSeconds, "cpu-seconds")
				b.ReportMetric(row.heapMiB, "MiB-heap")
				b.ReportMetric(float64(row.left), "claims-left")
				if i == b.N-1 {
					rows = append(rows, row)
				}
			}
		})
	}
	targets := fleetTargets(rows)
	table := fleetTable(rows) + "\n"
	for _, t := range targets {
		table += fmt.Sprintf("- %s: %.2f (target %s)\n", t.Name, t.Value, t)
	}
	table += "\n" + testutils.Missed(targets) + "\n"
	fmt.Print(table)
	if out := os.Getenv("FLEET_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

type fleetRow struct {
	nodes, checkpoints, errors, left int
	writesPerCheckpoint              float64
	writes                           map[string]float64
	p50, p99                         float64 // ms the apiserver added
	wall                             time.Duration
	cpuSeconds, heapMiB              float64
}

func runFleet(b *testing.B, nodes, checkpoints int, prefix string) fleetRow {
	ctx := context.Background()
	var replicas []*framework.APIServer
	for r := range 2 {
		s, err := cluster.StartAPIServer(fmt.Sprintf("apiserver%s-%d", strings.ReplaceAll(prefix, "/", "-"), r+1), framework.APIServerOptions{
			Binary:     "kube-apiserver",
			EtcdPrefix: prefix,
			ExtraArgs:  []string{"--feature-gates=ContainerCheckpointAPI=true"},
		})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Stop()
		replicas = append(replicas, s)
	}
	client := kubernetes.NewForConfigOrDie(replicas[0].Admin)
	ns := "fleet"
	const pods = 100
	kubelets := make([]*framework.FakeKubelet, nodes)
	for i := range kubelets {
		k, err := framework.StartFakeKubelet(cluster.PKI, fmt.Sprintf("fleet%d", i))
		if err != nil {
			b.Fatal(err)
		}
		defer k.Stop()
		k.SetHandler(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(fleetKubeletTime)
			kubeletArchive(w, r)
		})
		k.SetSummary(fleetSummary(ns, i, nodes, pods))
		if err := framework.RegisterNode(ctx, client, fmt.Sprintf("fleet%d", i), k.Port); err != nil {
			b.Fatal(err)
		}
		kubelets[i] = k
	}
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	if _, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for p := range pods {
		createPodWith(b, client, ns, singlePod(fmt.Sprintf("pod%d", p), fmt.Sprintf("fleet%d", p%nodes)))
	}

	writesBefore := leaseWrites(b, replicas)
	cpuBefore := cpuSeconds(b, replicas)
	var (
		mu        sync.Mutex
		apiserver []float64
		errs      []string
		wg        sync.WaitGroup
	)
	perPod := checkpoints / pods
	var clients []typedv1.PodInterface
	for _, s := range replicas {
		clients = append(clients, typedv1.NewForConfigOrDie(s.Admin).Pods(ns))
	}
	start := time.Now()
	profiled := profileFleet(b, replicas[0], fmt.Sprintf("fleet-%d-nodes", nodes))
	for p := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(rand.N(time.Second))
			for j := range perPod {
				began := time.Now()
				_, err := clients[(p+j)%2].Checkpoint(ctx, fmt.Sprintf("pod%d", p), nil)
				took := time.Since(began)
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					apiserver = append(apiserver, float64(took-fleetKubeletTime)/float64(time.Millisecond))
				}
				mu.Unlock()
				// The next checkpoint of this container a little over a
				// second after this one ended: by then its claim was given
				// back, so what is measured is the claims' cost, not the
				// spacing between two checkpoints of a container.
				time.Sleep(1100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	wall := time.Since(start)
	<-profiled
	cpu := cpuSeconds(b, replicas) - cpuBefore
	writes := leaseWrites(b, replicas)
	var all float64
	for verb, n := range writes {
		writes[verb] = n - writesBefore[verb]
		all += writes[verb]
	}
	time.Sleep(2 * time.Second) // the last claims' second
	left, err := testutils.ClaimNames(ctx, client)
	if err != nil {
		b.Fatal(err)
	}
	var heap float64
	for _, s := range replicas {
		h, err := liveHeapMiB(s)
		if err != nil {
			b.Fatal(err)
		}
		heap = max(heap, h)
	}
	if len(errs) > 0 {
		b.Errorf("%d of %d checkpoints failed, the first: %s", len(errs), pods*perPod, errs[0])
	}
	slices.Sort(apiserver)
	return fleetRow{
		nodes: nodes, checkpoints: pods * perPod, errors: len(errs), left: len(left),
		writesPerCheckpoint: all / float64(pods*perPod), writes: writes,
		p50: percentile(apiserver, 0.50), p99: percentile(apiserver, 0.99),
		wall: wall, cpuSeconds: cpu, heapMiB: heap,
	}
}

// profileFleet takes a CPU profile of replica for the middle of the run, 2 s
// to 10 s after it starts, into FLEET_PROFILE/<name>.pprof when FLEET_PROFILE
// names a directory (go tool pprof reads it); the channel is closed when it
// is written or there is none to take.
func profileFleet(b *testing.B, replica *framework.APIServer, name string) <-chan struct{} {
	done := make(chan struct{})
	dir := os.Getenv("FLEET_PROFILE")
	if dir == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		time.Sleep(2 * time.Second)
		raw, err := kubernetes.NewForConfigOrDie(replica.Admin).CoreV1().RESTClient().Get().
			AbsPath("/debug/pprof/profile").Param("seconds", "8").DoRaw(context.Background())
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name+".pprof"), raw, 0o644)
		}
		if err != nil {
			b.Errorf("CPU profile of %s: %v", name, err)
		}
	}()
	return done
}

// leaseWrites sums the Lease writes both apiservers served, by verb and
// code: the claims, and the apiservers' own identity Leases (one renewal per
// replica every 10 s).
func leaseWrites(b *testing.B, replicas []*framework.APIServer) map[string]float64 {
	writes := map[string]float64{}
	for _, s := range replicas {
		raw, err := kubernetes.NewForConfigOrDie(s.Admin).CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if err := testutils.LeaseWrites(string(raw), writes); err != nil {
			b.Fatal(err)
		}
	}
	return writes
}

// cpuSeconds sums the user and system CPU time of the apiservers.
func cpuSeconds(b *testing.B, replicas []*framework.APIServer) float64 {
	var total float64
	for _, s := range replicas {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.Pid()))
		if err != nil {
			b.Fatal(err)
		}
		// Fields after the command's closing parenthesis; utime and stime
		// are the 14th and 15th of the whole line.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+2:]))
		for _, f := range fields[11:13] {
			ticks, err := strconv.ParseFloat(f, 64)
			if err != nil {
				b.Fatal(err)
			}
			total += ticks / 100 // USER_HZ
		}
	}
	return total
}

func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

func fleetTable(rows []fleetRow) string {
	var s strings.Builder
	s.WriteString("| nodes | checkpoints (errors) | wall | Lease writes per checkpoint | writes by verb and code | apiserver's own time p50 / p99 | apiservers' CPU | live heap after (larger replica) | claims left |\n")
	s.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		var verbs []string
		for v, n := range r.writes {
			verbs = append(verbs, fmt.Sprintf("%s: %.0f", v, n))
		}
		slices.Sort(verbs)
		fmt.Fprintf(&s, "| %d | %d (%d) | %.1f s | %.2f | %s | %.1f / %.1f ms | %.1f s | %.1f MiB | %d |\n",
			r.nodes, r.checkpoints, r.errors, r.wall.Seconds(), r.writesPerCheckpoint, strings.Join(verbs, ", "), r.p50, r.p99, r.cpuSeconds, r.heapMiB, r.left)
	}
	return s.String()
}

// fleetTargets: the apiserver's own time p99 at most 30 ms at the largest
// fleet, and flat: at most 1.2× at the largest fleet what it is at the
// smallest.
func fleetTargets(rows []fleetRow) []testutils.Target {
	if len(rows) == 0 {
		return nil
	}
	small, large := rows[0], rows[len(rows)-1]
	return []testutils.Target{
		{Name: fmt.Sprintf("p99_ms_at_%d_nodes", large.nodes), Value: large.p99, Limit: 30},
		{Name: "p99_growth", Value: large.p99 / small.p99, Limit: 1.2},
	}
}

func envInts(name, fallback string) ([]int, error) {
	list := os.Getenv(name)
	if list == "" {
		list = fallback
	}
	out, err := testutils.PositiveInts(list)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

// fleetSummary answers /stats/summary as the kubelet of node i of the fleet
// would: a roomy file system, and the pods placed on it (pod p on node
// p%nodes) holding little.
func fleetSummary(ns string, i, nodes, pods int) http.HandlerFunc {
	var podStats []string
	for p := i; p < pods; p += nodes {
		podStats = append(podStats, fmt.Sprintf(`{"podRef":{"name":"pod%d","namespace":%q},"containers":[{"name":"app","memory":{"rssBytes":1048576}}]}`, p, ns))
	}
	body := fmt.Sprintf(`{"node":{"nodeName":"fleet%d","fs":{"availableBytes":%d,"capacityBytes":%d}},"pods":[%s]}`, i, int64(500)<<30, int64(1000)<<30, strings.Join(podStats, ","))
	return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }
}
