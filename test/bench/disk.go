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
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	statsapi "k8s.io/kubelet/pkg/apis/stats/v1alpha1"

	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// diskReport is the section on the kubelet's summary, which the apiserver
// asks before each checkpoint (--checkpoint-node-disk-reserve) beside the
// claims: what asking it costs the apiserver.
type diskReport struct {
	// paths holds (a) through replica 1, which asks the summary, and
	// through replica 2 restarted asking none, same pod, interleaved.
	paths map[string][]sample
	// summaries are the kubelet's answers to /stats/summary, asked
	// directly with the apiserver's client certificate between rounds.
	summaries []sample
}

// disk measures the apiserver's own time with and without the summary in
// the same run: replica 2 is restarted with --checkpoint-node-disk-reserve=
// (which asks nothing) and restarted as it was after.
func (b *bench) disk() (*diskReport, error) {
	d := &diskReport{paths: map[string][]sample{}}
	replica := &testutils.LocalUpDaemon{State: b.cfg.state, Name: "kube-apiserver-2"}
	log("the kubelet's summary: replica 2 restarted with --checkpoint-node-disk-reserve= (asking none)")
	if err := b.restartReplica(replica, "--checkpoint-node-disk-reserve="); err != nil {
		return nil, err
	}
	defer func() {
		log("the kubelet's summary: replica 2 restarted as it was")
		if err := b.restartReplica(replica); err != nil {
			log("  %v", err)
		}
	}()
	pod, err := b.client.CoreV1().Pods(namespace).Get(b.ctx, "bench", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	log("the kubelet's summary: %d checkpoints of pod %s/bench through replica 1 (asking it) and replica 2 (asking none), interleaved", b.cfg.samples, namespace)
	_ = b.interleave(pod, []string{pathReplica, pathUnasked}, b.cfg.samples, func(path string, s sample) error {
		d.paths[path] = append(d.paths[path], s)
		if s.err != nil {
			log("  %s: %v", path, s.err)
		}
		return nil
	}, func() {
		start := time.Now()
		_, err := b.summary()
		d.summaries = append(d.summaries, sample{took: time.Since(start), err: err})
	})
	b.removeArchives()
	return d, nil
}

// restartReplica stops the local-up daemon of a replica and starts it with
// extra flags, and waits until it serves pods/checkpoint again.
func (b *bench) restartReplica(replica *testutils.LocalUpDaemon, extra ...string) error {
	if err := replica.Stop(syscall.SIGTERM); err != nil {
		return err
	}
	if err := replica.Start(extra...); err != nil {
		return err
	}
	client := b.replicas[1]
	return wait.PollUntilContextTimeout(b.ctx, 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		if _, err := client.CoreV1().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx); err != nil {
			return false, nil
		}
		// The watch caches a checkpoint reads (the pod and its node).
		_, podsErr := client.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 1})
		_, nodesErr := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{ResourceVersion: "0", Limit: 1})
		return podsErr == nil && nodesErr == nil, nil
	})
}

// summary asks the node's kubelet for /stats/summary as the apiserver does.
func (b *bench) summary() (*statsapi.Summary, error) {
	body, err := b.askKubelet(http.MethodGet, "/stats/summary")
	if err != nil {
		return nil, err
	}
	var s statsapi.Summary
	return &s, json.Unmarshal(body, &s)
}

// estimate is the apiserver's estimate of the archive of the pod's
// container, from the kubelet's summary, once the summary reports the
// container's memory at least at heldMiB (the kubelet refreshes its stats
// every few seconds, so a container that has just grown is reported late).
func (b *bench) estimate(pod string, heldMiB int) (uint64, error) {
	var estimate uint64
	err := wait.PollUntilContextTimeout(b.ctx, time.Second, time.Minute, true, func(context.Context) (bool, error) {
		s, err := b.summary()
		if err != nil {
			return false, nil
		}
		for _, p := range s.Pods {
			if p.PodRef.Namespace != namespace || p.PodRef.Name != pod {
				continue
			}
			for _, c := range p.Containers {
				if c.Name == container && c.Memory != nil && c.Memory.RSSBytes != nil {
					estimate = podrest.EstimateArchive(c)
					return *c.Memory.RSSBytes >= uint64(heldMiB)<<20, nil
				}
			}
		}
		return false, nil
	})
	if err != nil && estimate == 0 {
		return 0, fmt.Errorf("the kubelet's summary never reported container %s of pod %s: %w", container, pod, err)
	}
	return estimate, nil
}

// added is the median of the apiserver's own time asking the summary minus
// asking none, in milliseconds.
func (d *diskReport) added() float64 {
	with, without := statsOf(ownTime(d.paths[pathReplica])).median, statsOf(ownTime(d.paths[pathUnasked])).median
	return float64(with-without) / float64(time.Millisecond)
}

func (d *diskReport) write(p func(string, ...any), goal func(name string) string) {
	p("## The kubelet's summary, asked beside the claims")
	p("")
	p("Before each checkpoint the apiserver asks the pod's kubelet for `/stats/summary` (within 2 s), while it takes the")
	p("claims, to refuse with 507 an archive that would leave less than `--checkpoint-node-disk-reserve` (4Gi, as `make local-up` sets it) free. Here")
	p("replica 2 is restarted with `--checkpoint-node-disk-reserve=` (asking nothing) and the same pod is checkpointed")
	p("through each replica alone, interleaved; then replica 2 is restarted as it was.")
	p("")
	p("| path | n | errors | median | p90 | apiserver's own time, median | p90 |")
	p("|---|---:|---:|---:|---:|---:|---:|")
	for _, path := range []string{pathReplica, pathUnasked} {
		s, own := statsOf(took(d.paths[path])), statsOf(ownTime(d.paths[path]))
		name := pathNames[path]
		if path == pathReplica {
			name = "(a) through one apiserver alone, asking the summary"
		}
		p("| %s | %d | %d | %s | %s | %s | %s |", name, s.n, errorsIn(d.paths[path]), ms(s.median), ms(s.p90), ms(own.median), ms(own.p90))
	}
	p("")
	p("| measure | value | target |")
	p("|---|---:|---:|")
	p("| the apiserver's own time asking the summary − asking none, median over median | %.1f ms | %s ms |", d.added(), goal("summary_added_ms"))
	sum := statsOf(took(d.summaries))
	p("| for reference: the kubelet's `/stats/summary` asked directly with the apiserver's client certificate, median / p90 | %s / %s ms | |", ms(sum.median), ms(sum.p90))
	p("")
}
