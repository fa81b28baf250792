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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// haReport is the section on two apiservers behind a load balancer.
type haReport struct {
	replicas int
	// paths holds (a) through the load balancer and through one replica
	// alone, on the same pod, interleaved.
	paths map[string][]sample
	// concurrency is the sweep with each request through a replica in turn.
	concurrency []concurrencyLevel
	// writes are the Lease writes the replicas served during the section,
	// by verb and code, and checkpoints the checkpoints they were for.
	writes      map[string]float64
	checkpoints int
}

// ha measures pods/checkpoint with several apiservers: the load balancer's
// hop, throughput through both replicas, and what the claims write.
func (b *bench) ha() (*haReport, error) {
	h := &haReport{replicas: len(b.replicas), paths: map[string][]sample{}}
	before, err := b.leaseWrites()
	if err != nil {
		return nil, err
	}
	log("two apiservers: %d checkpoints of pod %s/bench through the load balancer and through one replica alone, interleaved", b.cfg.samples, namespace)
	pod, err := b.client.CoreV1().Pods(namespace).Get(b.ctx, "bench", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	_ = b.interleave(pod, []string{pathAPI, pathReplica}, b.cfg.samples, func(path string, s sample) error {
		h.paths[path] = append(h.paths[path], s)
		h.checkpoints++
		if s.err != nil {
			log("  %s: %v", path, s.err)
		}
		return nil
	}, nil)
	b.removeArchives()

	h.concurrency, err = b.sweep(b.cfg.concurrency, b.replicaPods, "two apiservers, each pod through a replica in turn")
	for _, level := range h.concurrency {
		h.checkpoints += level.requests
	}
	if err != nil {
		return h, err
	}
	after, err := b.leaseWrites()
	if err != nil {
		return h, err
	}
	h.writes = map[string]float64{}
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			h.writes[k] = d
		}
	}
	return h, nil
}

// leaseWrites sums, over the replicas, the Lease writes they served by verb
// and code: the claims, and each replica's identity Lease (one renewal every
// 10 s).
func (b *bench) leaseWrites() (map[string]float64, error) {
	writes := map[string]float64{}
	err := b.eachMetrics(func(text string) error {
		return testutils.LeaseWrites(text, writes)
	})
	return writes, err
}

// added is what the load balancer's hop adds: the apiserver's own time
// (client time less the kubelet's, which varies far more than the hop) through
// it, median, less the same through one replica alone.
func (h *haReport) added() float64 {
	lb, direct := statsOf(ownTime(h.paths[pathAPI])).median, statsOf(ownTime(h.paths[pathReplica])).median
	return float64(lb-direct) / 1e6
}

// ownTime is, per checkpoint through pods/checkpoint, the client's time less
// the kubelet's part that the apiserver reports, counted kubeletCut longer.
func ownTime(samples []sample) []time.Duration {
	var d []time.Duration
	for _, s := range samples {
		if s.err == nil {
			d = append(d, s.took-s.kubelet-kubeletCut)
		}
	}
	return d
}

// kubeletCut is the mean of what the result's kubelet time, in whole
// milliseconds cut down, leaves out.
const kubeletCut = time.Millisecond / 2

// throughputRatio is the throughput at the level with the most pods over the
// best level's.
func throughputRatio(levels []concurrencyLevel) float64 {
	best, last := 0.0, 0.0
	for _, l := range levels {
		wall := statsOf(l.walls).median
		if wall <= 0 {
			continue
		}
		t := float64(l.pods) / wall.Seconds()
		best = max(best, t)
		last = t
	}
	if best == 0 {
		return 0
	}
	return last / best
}

func (h *haReport) writesPerCheckpoint() float64 {
	total := 0.0
	for _, v := range h.writes {
		total += v
	}
	if h.checkpoints == 0 {
		return 0
	}
	return total / float64(h.checkpoints)
}
