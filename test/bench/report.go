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
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

type report struct {
	cfg               config
	node              string
	serverVersion     string
	started, finished time.Time

	paths       map[string][]sample
	podGets     []sample
	lost        int
	concurrency []concurrencyLevel
	memory      []memoryLevel
	idle        *idleRSS
	ha          *haReport
	disk        *diskReport
}

// stats are the order statistics of some durations.
type stats struct {
	n                      int
	min, median, p90, maxD time.Duration
}

func statsOf(d []time.Duration) stats {
	if len(d) == 0 {
		return stats{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	n := len(s)
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	p90 := s[int(math.Ceil(0.9*float64(n)))-1] // nearest rank
	return stats{n: n, min: s[0], median: median, p90: p90, maxD: s[n-1]}
}

func took(samples []sample) []time.Duration {
	var d []time.Duration
	for _, s := range samples {
		if s.err == nil {
			d = append(d, s.took)
		}
	}
	return d
}

func errorsIn(samples []sample) int {
	n := 0
	for _, s := range samples {
		if s.err != nil {
			n++
		}
	}
	return n
}

func (r *report) pathErrors() int {
	n := 0
	for _, samples := range r.paths {
		n += errorsIn(samples)
	}
	return n
}

func (r *report) ratio(over string) float64 {
	return medianRatio(took(r.paths[pathAPI]), took(r.paths[over]))
}

func medianRatio(a, o []time.Duration) float64 {
	m := statsOf(o).median
	if m == 0 {
		return math.NaN()
	}
	return float64(statsOf(a).median) / float64(m)
}

// sameKubelet is a/over as if the kubelet had taken the same time for both
// paths: the kubelet's median time by its own metric over both, plus each
// path's median part beyond it (the client's time less the kubelet's), one
// over the other. The kubelet's time varies from one checkpoint to the next by
// ten times the 2% the target allows; this leaves only what each path adds.
func sameKubelet(a, over []sample) float64 {
	k, beyondA, beyondO := sameKubeletParts(a, over)
	if k == 0 || beyondA == 0 || beyondO == 0 {
		return math.NaN() // the kubelet's metric was not read
	}
	return float64(k+beyondA) / float64(k+beyondO)
}

// sameKubeletParts are the medians sameKubelet is made of: the kubelet's
// time by its metric over a and over, and each one's time beyond it.
func sameKubeletParts(a, over []sample) (kubelet, beyondA, beyondO time.Duration) {
	servedA, byA := servedParts(a)
	servedO, byO := servedParts(over)
	return statsOf(append(servedA, servedO...)).median, statsOf(byA).median, statsOf(byO).median
}

// servedParts splits each checkpoint that succeeded and has the kubelet's
// metric into the kubelet's time by it and what the checkpoint took beyond
// it: the path's own part, with the network to the kubelet.
func servedParts(samples []sample) (served, beyond []time.Duration) {
	for _, s := range samples {
		if s.err == nil && s.served > 0 {
			served = append(served, s.served)
			beyond = append(beyond, s.took-s.served)
		}
	}
	return served, beyond
}

func (r *report) sameKubelet(over string) float64 {
	return sameKubelet(r.paths[pathAPI], r.paths[over])
}

// ratioInterval is the 95% bootstrap interval of ratio(over): how far the
// kubelet's own variation lets the ratio of two medians of this many
// checkpoints move.
func (r *report) ratioInterval(over string) (lo, hi float64) {
	return interval(r.paths[pathAPI], r.paths[over], func(a, o []sample) float64 { return medianRatio(took(a), took(o)) })
}

// sameKubeletInterval is the 95% bootstrap interval of sameKubelet(over).
func (r *report) sameKubeletInterval(over string) (lo, hi float64) {
	return interval(r.paths[pathAPI], r.paths[over], sameKubelet)
}

// interval is the 95% bootstrap interval of figure(a, o): both resampled 2000
// times, with a fixed seed.
func interval(a, o []sample, figure func(a, o []sample) float64) (lo, hi float64) {
	if len(a) == 0 || len(o) == 0 {
		return math.NaN(), math.NaN()
	}
	rng := rand.New(rand.NewPCG(1, 2))
	resample := func(d []sample) []sample {
		out := make([]sample, len(d))
		for i := range out {
			out[i] = d[rng.IntN(len(d))]
		}
		return out
	}
	figures := make([]float64, 2000)
	for i := range figures {
		figures[i] = figure(resample(a), resample(o))
	}
	slices.Sort(figures) // NaNs first
	return figures[len(figures)*25/1000], figures[len(figures)*975/1000-1]
}

// apiserverTime is, per checkpoint through (a), the client's time less the
// kubelet's part that the apiserver reports: what the apiserver adds.
func (r *report) apiserverTime() stats {
	return statsOf(ownTime(r.paths[pathAPI]))
}

// errorsAt is the errors of the concurrency level with the most pods.
func (r *report) errorsAt() (pods, errors int) {
	for _, l := range r.concurrency {
		if l.pods >= pods {
			pods, errors = l.pods, l.errors
		}
	}
	return pods, errors
}

func (r *report) summary() string {
	_, errs := r.errorsAt()
	line := fmt.Sprintf("ratio_vs_nodes_proxy=%.3f ratio_vs_nodes_proxy_raw=%.3f ratio_vs_kubelet=%.3f concurrent32_errors=%d throughput32_ratio_one=%.3f own_ms=%.1f get_ms=%.1f",
		r.sameKubelet(pathProxy), r.ratio(pathProxy), r.ratio(pathKubelet), errs, throughputRatio(r.concurrency), ms64(r.apiserverTime().median), ms64(r.podGet()))
	if r.ha != nil {
		line += fmt.Sprintf(" ha_added_ms=%.1f throughput32_ratio=%.3f writes_per_checkpoint=%.2f", r.ha.added(), throughputRatio(r.ha.concurrency), r.ha.writesPerCheckpoint())
	}
	if r.disk != nil {
		line += fmt.Sprintf(" summary_added_ms=%.1f", r.disk.added())
	}
	return line + " " + testutils.Missed(r.targets())
}

// targets are the figures of the run that have goals, by their names in
// the summary line.
func (r *report) targets() []testutils.Target {
	ts := []testutils.Target{
		// a/b as if the kubelet had taken the same time for both.
		{Name: "ratio_vs_nodes_proxy", Value: r.sameKubelet(pathProxy), Limit: 1.02},
		// The apiserver's own time against a GET of the same pod.
		{Name: "own_time_over_get", Value: ms64(r.apiserverTime().median) / ms64(r.podGet()), Limit: 2},
		{Name: "throughput32_ratio_one", Value: throughputRatio(r.concurrency), Limit: 0.9, AtLeast: true},
	}
	if r.ha != nil {
		ts = append(ts,
			testutils.Target{Name: "ha_added_ms", Value: r.ha.added(), Limit: 10},
			testutils.Target{Name: "throughput32_ratio", Value: throughputRatio(r.ha.concurrency), Limit: 0.9, AtLeast: true},
			testutils.Target{Name: "writes_per_checkpoint", Value: r.ha.writesPerCheckpoint(), Limit: 3})
	}
	if r.disk != nil {
		ts = append(ts, testutils.Target{Name: "summary_added_ms", Value: r.disk.added(), Limit: 1})
	}
	return ts
}

// goal is the target of the figure the summary line names name, as a table
// shows it ("≤ 1.02").
func (r *report) goal(name string) string {
	for _, t := range r.targets() {
		if t.Name == name {
			return t.String()
		}
	}
	panic("no target named " + name)
}

// podGet is the median time of a GET of the benchmark's pod.
func (r *report) podGet() time.Duration {
	return statsOf(took(r.podGets)).median
}

func ms64(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64)
}
func sec(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 2, 64)
}

func (r *report) write(out, plot string) error {
	var w strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&w, format+"\n", args...) }

	p("# Benchmarks")
	p("")
	p("Written by `make bench` (`hack/bench.sh`, `test/bench`) on %s; do not edit by hand.", r.started.UTC().Format("2006-01-02 15:04 MST"))
	p("Run again on your machine to compare; the numbers below are from one run on the machine described.")
	p("")
	p("- Machine: %s, %d CPUs, kernel %s.", cpuModel(), runtime.NumCPU(), strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")))
	p("- Cluster: `make local-up`, apiserver %s, node %s (kubelet v1.37.2, containerd v2.2.9, runc v1.3.3, CRIU 4.2.1), all on this machine.", r.serverVersion, r.node)
	p("- Pod: the counter image of `test/images` (a Go program counting ten times a second, ~1 MB checkpoint).")
	p("- Run took %s.", r.finished.Sub(r.started).Round(time.Second))
	p("")
	p("## The same pod through four paths")
	p("")
	p("%d checkpoints through each path, interleaved (each path goes first in turn), more than a second apart", r.cfg.samples)
	p("(the kubelet names archives by the second; (b) and (c) would overwrite each other's archives otherwise).")
	p("Times are as the caller sees them, in milliseconds; (d) includes starting the crictl process.")
	p("")
	p("| path | n | errors | min | median | p90 | max |")
	p("|---|---:|---:|---:|---:|---:|---:|")
	for _, path := range []string{pathAPI, pathProxy, pathKubelet, pathCrictl} {
		s := statsOf(took(r.paths[path]))
		p("| %s | %d | %d | %s | %s | %s | %s |", pathNames[path], s.n, errorsIn(r.paths[path]), ms(s.min), ms(s.median), ms(s.p90), ms(s.maxD))
	}
	a, c := statsOf(took(r.paths[pathAPI])), statsOf(took(r.paths[pathKubelet]))
	added := r.apiserverTime()
	p("")
	p("| measure | value | target |")
	p("|---|---:|---:|")
	lo, hi := r.sameKubeletInterval(pathProxy)
	p("| a/b as if the kubelet had taken the same time for both: its median time by its own metric over (a) and (b), plus each path's median beyond it | %.3f | %s |", r.sameKubelet(pathProxy), r.goal("ratio_vs_nodes_proxy"))
	p("| the same, 95%% bootstrap interval | %.3f – %.3f | |", lo, hi)
	k, beyondA, beyondB := sameKubeletParts(r.paths[pathAPI], r.paths[pathProxy])
	p("| the kubelet's time by its metric, median over (a) and (b) / (a) beyond it / (b) beyond it, medians | %s / %s / %s ms | |", ms(k), ms(beyondA), ms(beyondB))
	lo, hi = r.ratioInterval(pathProxy)
	p("| a/b, median over median | %.3f | |", r.ratio(pathProxy))
	p("| a/b, 95%% bootstrap interval (what the kubelet's variation alone allows) | %.3f – %.3f | |", lo, hi)
	p("| a/c, median over median | %.3f | |", r.ratio(pathKubelet))
	p("| a − c, median minus median | %s ms | |", ms(a.median-c.median))
	p("| apiserver's own time per (a) checkpoint (client time − kubelet time the result reports − 0.5 ms), median | %s ms | ≤ 2× the GET below (%s ms) |", ms(added.median), ms(2*r.podGet()))
	p("| the same, p90 / max | %s / %s ms | |", ms(added.p90), ms(added.maxD))
	p("| a GET of the same pod by the same client (one quorum read from etcd), median | %s ms | |", ms(r.podGet()))
	p("| archives reported by (a) and no longer at their path and size at the end of the run | %d | 0 |", r.lost)
	p("")
	p("The kubelet's metric (`kubelet_http_requests_duration_seconds`, path `checkpoint`, read from the kubelet between")
	p("checkpoints) times its handler, from the same start to the same end whichever path asked: the client's time less it")
	p("is what each path adds. The kubelet's time varies by tens of milliseconds from one checkpoint to the next, so the")
	p("ratio of the raw medians of %d checkpoints moves by far more than the 2%% the target allows (its interval above);", r.cfg.samples)
	p("the target is judged on the first row, which takes that variation out and keeps what the paths themselves add.")
	p("")
	p("The kubelet time in the result is whole milliseconds, cut down: the apiserver's own time above counts each one 0.5 ms")
	p("longer, the mean of what is cut. It covers the client's round trip, authentication, authorization,")
	p("admission, the read of the pod from etcd, the claim, the checks that protect the node and the archive, and encoding")
	p("the result.")
	p("")
	p("## Concurrency: distinct pods on one node at once, through (a)")
	p("")
	p("The apiserver runs with the default `--checkpoint-max-inflight-per-node=4` and `--checkpoint-inflight-wait=30s`: beyond")
	p("four, requests wait for a place, and get 429 with `Retry-After: 1` (which client-go waits out and retries by itself)")
	p("only when none is given back in time; an error here is one the caller saw.")
	p("%d rounds per level, the levels taking turns round by round (each going first in turn), so that a slow spell of", r.cfg.rounds)
	p("the machine falls on every level alike; throughput is pods over the median round's wall time. The node's places")
	p("busy is the kubelet's time of a round's checkpoints over %d places (fewer at fewer pods) times the round's wall", maxInflightPerNode)
	p("time, median over the rounds: what the apiserver's coordination lets the node do, apart from how fast the node is.")
	p("")
	concurrencyTable(p, r.concurrency)
	p("")
	p("Throughput at the most pods over the best level's: %.3f (target %s).", throughputRatio(r.concurrency), r.goal("throughput32_ratio_one"))
	p("")
	if r.ha != nil {
		r.ha.write(p, r.goal)
	}
	if r.disk != nil {
		r.disk.write(p, r.goal)
	}
	if r.cfg.fleet != "" {
		table, err := os.ReadFile(r.cfg.fleet)
		if err != nil {
			return err
		}
		p("## A simulated fleet: many nodes, two apiservers")
		p("")
		p("`make bench-fleet` (`BenchmarkFleet` in `test/integration/checkpoint`): two apiservers on one etcd, N TLS kubelet")
		p("stand-ins registered as Nodes (each answers a checkpoint in 50 ms), 100 pods spread over them and 1,000")
		p("checkpoints, each of a pod a little over a second after its previous one ended, alternating replicas, all pods at")
		p("once from random offsets.")
		p("The apiserver's own time is what the client waited beyond the stand-in's 50 ms: the claims' Lease writes are in")
		p("it. Writes by verb and code count every Lease write the replicas served, failed ones included (a 409 is a place")
		p("taken a moment earlier). Claims left is counted two seconds after the last checkpoint.")
		p("")
		p("%s", strings.TrimSpace(string(table)))
		p("")
	}
	p("## Memory: a container holding more and more memory, through (a) and (d)")
	p("")
	p("The counter with `-hold-mib N` writes every page of N MiB before it counts. %d checkpoints per path and size, alternating which goes first.", r.cfg.sizeSamples)
	p("")
	p("The apiserver's estimate is what it makes of the kubelet's summary before a checkpoint (the container's resident")
	p("memory and writable layer, and 1 MiB) to refuse with 507 an archive that would not leave --checkpoint-node-disk-reserve")
	p("free; it is read once the summary reports the memory held (the kubelet refreshes its stats every few seconds).")
	p("")
	p("| held MiB | path | n | min (s) | median (s) | max (s) | archive MiB (median) | apiserver's estimate MiB | estimate / archive |")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, m := range r.memory {
		for _, path := range []string{pathAPI, pathCrictl} {
			s := statsOf(took(m.samples[path]))
			archive := medianMiB(m.samples[path])
			estimate, ratio := "", ""
			if path == pathAPI && m.estimate > 0 {
				estimate = fmt.Sprintf("%.1f", float64(m.estimate)/(1<<20))
				if archive > 0 {
					ratio = fmt.Sprintf("%.2f", float64(m.estimate)/(1<<20)/archive)
				}
			}
			p("| %d | %s | %d | %s | %s | %s | %.1f | %s | %s |", m.mib, pathNames[path], s.n, sec(s.min), sec(s.median), sec(s.maxD), archive, estimate, ratio)
		}
	}
	p("")
	p("![checkpoint time against container memory](%s)", relPath(out, plot))
	p("")
	p("## Idle apiserver memory")
	p("")
	if r.idle == nil {
		p("Not measured in this run (`make bench-rss`).")
	} else {
		p("`make bench-rss`: the apiserver started with the same flags on the same etcd, the gate off and on, resident memory")
		p("and the live Go heap right after a forced collection (`/debug/pprof/heap?gc=1`), once it settled; %s.", r.idle.how)
		p("RSS moves by several MiB from one start of the same binary to the next; the live heap much less.")
		p("")
		p("| gate | RSS (MiB) | live heap (MiB) |")
		p("|---|---:|---:|")
		p("| ContainerCheckpointAPI=false | %.1f | %.1f |", r.idle.off, r.idle.heapOff)
		p("| ContainerCheckpointAPI=true | %.1f | %.1f |", r.idle.on, r.idle.heapOn)
		p("| added (median of the pairs' differences; target ≤ 5) | %.1f | %.1f |", r.idle.added, r.idle.heapAdded)
	}
	p("")
	p("## Summary")
	p("")
	p("```")
	p("%s", r.summary())
	p("```")
	if err := os.WriteFile(out, []byte(w.String()), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(plot), 0o755); err != nil {
		return err
	}
	return writePlot(plot, r.memory)
}

func medianMiB(samples []sample) float64 {
	var sizes []int64
	for _, s := range samples {
		sizes = append(sizes, s.bytes)
	}
	if len(sizes) == 0 {
		return 0
	}
	slices.Sort(sizes)
	return float64(sizes[len(sizes)/2]) / (1 << 20)
}

func relPath(from, to string) string {
	absFrom, err1 := filepath.Abs(filepath.Dir(from))
	absTo, err2 := filepath.Abs(to)
	if err1 != nil || err2 != nil {
		return to
	}
	if rel, err := filepath.Rel(absFrom, absTo); err == nil {
		return rel
	}
	return to
}

func readFile(path string) string {
	raw, _ := os.ReadFile(path)
	return string(raw)
}

func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return runtime.GOARCH
}

// idleRSS is what make bench-rss measured.
type idleRSS struct {
	off, on, added             float64
	heapOff, heapOn, heapAdded float64
	how                        string
}

// readIdleRSS reads the result line of BenchmarkIdleRSS:
//
//	BenchmarkIdleRSS-2  3  ...  275.2 MiB-rss-gate-off  281.0 MiB-rss-gate-on  5.8 MiB-rss-added
func readIdleRSS(path string) (*idleRSS, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 || !strings.HasPrefix(fields[0], "BenchmarkIdleRSS") {
			continue
		}
		rss := &idleRSS{how: fmt.Sprintf("median of %s samples, each pair started one after the other", fields[1])}
		found := 0
		for i := 1; i < len(fields); i++ {
			v, err := strconv.ParseFloat(fields[i-1], 64)
			if err != nil {
				continue
			}
			switch fields[i] {
			case "MiB-rss-gate-off":
				rss.off = v
				found++
			case "MiB-rss-gate-on":
				rss.on = v
				found++
			case "MiB-rss-added":
				rss.added = v
			case "MiB-heap-gate-off":
				rss.heapOff = v
			case "MiB-heap-gate-on":
				rss.heapOn = v
			case "MiB-heap-added":
				rss.heapAdded = v
			}
		}
		if found == 2 {
			return rss, nil
		}
	}
	return nil, fmt.Errorf("%s has no BenchmarkIdleRSS result", path)
}

func concurrencyTable(p func(string, ...any), levels []concurrencyLevel) {
	p("| pods at once | requests | errors | 429s retried | round wall median (s) | throughput (checkpoints/s) | node's places busy | latency median (s) | latency p90 (s) |")
	p("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, l := range levels {
		wall := statsOf(l.walls).median
		lat := statsOf(l.latencies)
		p("| %d | %d | %d | %.0f | %s | %.2f | %.0f%% | %s | %s |", l.pods, l.requests, l.errors, l.refused, sec(wall), float64(l.pods)/wall.Seconds(),
			100*testutils.Median(l.busy), sec(lat.median), sec(lat.p90))
	}
	for _, l := range levels {
		if l.firstError != "" {
			p("")
			p("First error at %d pods: `%s`", l.pods, l.firstError)
		}
	}
}

func (h *haReport) write(p func(string, ...any), goal func(name string) string) {
	p("## Two apiservers behind a load balancer")
	p("")
	p("The cluster runs %d kube-apiservers on one etcd behind haproxy (`APISERVERS=%d make local-up`). Every checkpoint", h.replicas, h.replicas)
	p("claims its container and a place on its node with Leases in kube-system, whichever replica serves it, so that")
	p("no archive is overwritten and the per-node bound holds over all replicas. client-go keeps one HTTP/2")
	p("connection per server, so a client through the load balancer talks to one replica; the sections above are that.")
	p("")
	p("### The load balancer's hop: (a) through it and through one replica alone, same pod, interleaved")
	p("")
	p("| path | n | errors | min | median | p90 | max |")
	p("|---|---:|---:|---:|---:|---:|---:|")
	for _, path := range []string{pathAPI, pathReplica} {
		s := statsOf(took(h.paths[path]))
		name := pathNames[path]
		if path == pathAPI {
			name = "(a) through the load balancer"
		}
		p("| %s | %d | %d | %s | %s | %s | %s |", name, s.n, errorsIn(h.paths[path]), ms(s.min), ms(s.median), ms(s.p90), ms(s.maxD))
	}
	p("")
	p("| measure | value | target |")
	p("|---|---:|---:|")
	p("| medians of the client's time through the load balancer − through one replica | %s ms | |", ms(statsOf(took(h.paths[pathAPI])).median-statsOf(took(h.paths[pathReplica])).median))
	p("| the same of the apiserver's own time (client time − kubelet time; the kubelet's varies far more than the hop) | %.1f ms | %s ms |", h.added(), goal("ha_added_ms"))
	lb := statsOf(ownTime(h.paths[pathAPI]))
	p("| apiserver's own time through the load balancer, median / p90 (claims included) | %s / %s ms | |", ms(lb.median), ms(lb.p90))
	p("| Lease writes per checkpoint during this section (claims; the replicas' identity Leases add one every 10 s each) | %.2f | %s |", h.writesPerCheckpoint(), goal("writes_per_checkpoint"))
	var verbs []string
	for v, n := range h.writes {
		verbs = append(verbs, fmt.Sprintf("%s: %.0f", v, n))
	}
	slices.Sort(verbs)
	p("| the writes by verb and code, for %d checkpoints | %s | |", h.checkpoints, strings.Join(verbs, ", "))
	p("")
	p("### Concurrency through both replicas")
	p("")
	p("Each request of a round goes to a replica in turn, so both serve the node at once and the bound of 4 per node")
	p("is held across them.")
	p("")
	concurrencyTable(p, h.concurrency)
	p("")
	p("Throughput at the most pods over the best level's: %.3f (target %s).", throughputRatio(h.concurrency), goal("throughput32_ratio"))
	p("")
}
