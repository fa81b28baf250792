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
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// BenchmarkIdleRSS reports the resident memory of the patched apiserver at
// rest with the gate on and off, started with the same flags on the same
// etcd: what serving pods/checkpoint costs a cluster that does not use it.
// RSS moves by several MiB from one start to the next, so it also reports the
// live Go heap right after a forced collection (the apiserver's
// /debug/pprof/heap?gc=1), which varies far less.
//
//	make bench-rss
func BenchmarkIdleRSS(b *testing.B) {
	settle := 20 * time.Second
	if s := os.Getenv("IDLE_SETTLE"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			b.Fatal(err)
		}
		settle = d
	}
	samples := map[string][]float64{}
	for i := 0; i < b.N; i++ {
		rss, heap := map[string]float64{}, map[string]float64{}
		for _, gate := range []string{"off", "on"} {
			s, err := cluster.StartAPIServer(fmt.Sprintf("apiserver-rss-%s-%d-%d", gate, b.N, i), framework.APIServerOptions{
				Binary:     "kube-apiserver",
				EtcdPrefix: fmt.Sprintf("/rss-%s-%d-%d", gate, b.N, i),
				ExtraArgs:  []string{"--feature-gates=ContainerCheckpointAPI=" + strconv.FormatBool(gate == "on")},
			})
			if err != nil {
				b.Fatal(err)
			}
			time.Sleep(settle)
			rss[gate], err = residentMiB(s.Pid())
			if err == nil {
				heap[gate], err = liveHeapMiB(s)
			}
			s.Stop()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("run of %d, sample %d: RSS gate off %.1f MiB, on %.1f MiB; live heap off %.1f MiB, on %.1f MiB", b.N, i+1, rss["off"], rss["on"], heap["off"], heap["on"])
		for name, v := range map[string]float64{
			"rss-gate-off": rss["off"], "rss-gate-on": rss["on"], "rss-added": rss["on"] - rss["off"],
			"heap-gate-off": heap["off"], "heap-gate-on": heap["on"], "heap-added": heap["on"] - heap["off"],
		} {
			samples[name] = append(samples[name], v)
		}
	}
	// Medians, one per unit (MiB-rss-gate-off, ...).
	for name, v := range samples {
		b.ReportMetric(testutils.Median(v), "MiB-"+name)
	}
}

// liveHeapMiB forces a garbage collection in the apiserver and reads its live
// heap (HeapAlloc) from the debug=1 heap profile.
func liveHeapMiB(s *framework.APIServer) (float64, error) {
	raw, err := kubernetes.NewForConfigOrDie(s.Admin).CoreV1().RESTClient().Get().
		AbsPath("/debug/pprof/heap").Param("debug", "1").Param("gc", "1").DoRaw(context.Background())
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			bytes, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return bytes / (1 << 20), err
		}
	}
	return 0, fmt.Errorf("no HeapAlloc in the heap profile")
}

func residentMiB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close() //nolint:errcheck
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if rest, ok := strings.CutPrefix(scanner.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
