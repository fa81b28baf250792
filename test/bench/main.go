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

// Command bench measures pods/checkpoint on a make local-up cluster against
// the ways operators checkpoint without it, on the same running pod:
//
//	(a) pods/checkpoint through the typed client,
//	(b) POST nodes/{node}/proxy/checkpoint/... through the apiserver,
//	(c) the kubelet's /checkpoint directly, with the apiserver's kubelet
//	    client certificate,
//	(d) crictl checkpoint --export against the node's containerd,
//
// interleaved, then a concurrency sweep over distinct pods and a memory
// sweep over containers holding more and more memory. It writes BENCHMARKS.md
// and a PNG plot, and its last line is the summary
//
//	ratio_vs_nodes_proxy=<a/b as if the kubelet took the same time for both (its own metric)>
//	    ratio_vs_nodes_proxy_raw=<a/b median> ratio_vs_kubelet=<a/c median> concurrent32_errors=<n>
//	    throughput32_ratio_one=<throughput at 32 pods over the best level's>
//	    own_ms=<the apiserver's own time, median> get_ms=<a GET of the pod, median>
//	    [ha_added_ms=<median through the load balancer − median through one replica> throughput32_ratio=<n>
//	     writes_per_checkpoint=<Lease writes>] [summary_added_ms=<n>]
//	    missed=<the names above that missed their targets, comma-separated, or none>
//
// With --replica-kubeconfigs (two apiservers behind a load balancer) it adds
// a section: (a) through the load balancer against (a) through one replica
// alone on the same pod, the concurrency sweep through both replicas, and the
// Lease writes of the claims per checkpoint.
//
// It runs inside the control plane's network namespace (hack/bench.sh, make
// bench) and removes the pods and archives it made.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

func main() {
	var cfg config
	flag.StringVar(&cfg.kubeconfig, "kubeconfig", "", "admin kubeconfig of the cluster")
	flag.StringVar(&cfg.state, "local-up-state", "", "state directory of the make local-up cluster: its PKI and its nodes' containerd sockets")
	flag.StringVar(&cfg.crictl, "crictl", "crictl", "crictl binary for path (d)")
	flag.StringVar(&cfg.image, "image", "kube-checkpoint.local/counter:v1", "the counter image of test/images, present on the node")
	flag.IntVar(&cfg.samples, "samples", 20, "checkpoints of one pod through each of the four paths, interleaved")
	concurrency := flag.String("concurrency", "1,4,16,32", "numbers of distinct pods checkpointed at once")
	flag.IntVar(&cfg.rounds, "rounds", 5, "rounds at each concurrency (the levels take turns round by round)")
	sizes := flag.String("sizes", "16,64,256,1024", "MiB of memory held by the containers of the memory sweep")
	flag.IntVar(&cfg.sizeSamples, "size-samples", 3, "checkpoints of each memory size through (a) and through (d)")
	flag.StringVar(&cfg.idleRSS, "idle-rss", "", "output of make bench-rss to report beside the cluster numbers")
	flag.StringVar(&cfg.out, "out", "BENCHMARKS.md", "report to write")
	flag.StringVar(&cfg.plot, "plot", "docs/bench-time-vs-rss.png", "PNG plot of checkpoint time against container memory to write")
	flag.StringVar(&cfg.fleet, "fleet", "", "output of make bench-fleet (a markdown table) to report")
	replicas := flag.String("replica-kubeconfigs", "", "comma-separated kubeconfigs that reach each apiserver replica alone (kubeconfig-apiserver1,2 of APISERVERS=2 make local-up): adds the section on two apiservers")
	flag.Parse()

	var err error
	if cfg.concurrency, err = testutils.PositiveInts(*concurrency); err != nil {
		fail("--concurrency: %v", err)
	}
	if cfg.sizes, err = testutils.PositiveInts(*sizes); err != nil {
		fail("--sizes: %v", err)
	}
	if *replicas != "" {
		cfg.replicaKubeconfigs = strings.Split(*replicas, ",")
		if len(cfg.replicaKubeconfigs) < 2 {
			fail("--replica-kubeconfigs: want two or more, got %q", *replicas)
		}
	}
	if cfg.kubeconfig == "" || cfg.state == "" {
		fail("--kubeconfig and --local-up-state are required (run make bench)")
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", cfg.kubeconfig)
	if err != nil {
		fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Hour)
	defer cancel()

	b, err := newBench(ctx, cfg, restConfig)
	if err != nil {
		fail("%v", err)
	}
	report, runErr := b.run()
	cleanupErr := b.cleanup()
	if report != nil {
		if err := report.write(cfg.out, cfg.plot); err != nil {
			fail("writing the report: %v", err)
		}
		fmt.Printf("wrote %s and %s\n", cfg.out, cfg.plot)
	}
	if runErr != nil {
		fail("%v", runErr)
	}
	if cleanupErr != nil {
		fail("cleaning up: %v", cleanupErr)
	}
	fmt.Println(report.summary())
	if report.pathErrors() > 0 {
		os.Exit(1)
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(1)
}
