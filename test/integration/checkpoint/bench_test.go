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
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
)

// BenchmarkIdleRSS reports the resident memory of the patched apiserver at
// rest with the gate on and off, started with the same flags on the same
// etcd: what serving pods/checkpoint costs a cluster that does not use it.
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
	var off, on, added []float64
	for i := 0; i < b.N; i++ {
		rss := map[string]float64{}
		for _, gate := range []string{"off", "on"} {
			s, err := cluster.StartAPIServer(fmt.Sprintf("apiserver-rss-%s-%d", gate, i), framework.APIServerOptions{
				Binary:     "kube-apiserver",
				EtcdPrefix: fmt.Sprintf("/rss-%s-%d", gate, i),
				ExtraArgs:  []string{"--feature-gates=ContainerCheckpointAPI=" + strconv.FormatBool(gate == "on")},
			})
			if err != nil {
				b.Fatal(err)
			}
			time.Sleep(settle)
			rss[gate], err = residentMiB(s.Pid())
			s.Stop()
			if err != nil {
				b.Fatal(err)
			}
		}
		b.Logf("sample %d: gate off %.1f MiB, gate on %.1f MiB", i+1, rss["off"], rss["on"])
		off, on, added = append(off, rss["off"]), append(on, rss["on"]), append(added, rss["on"]-rss["off"])
	}
	// Medians: one apiserver's RSS moves by a few MiB from start to start.
	b.ReportMetric(median(off), "MiB-rss-gate-off")
	b.ReportMetric(median(on), "MiB-rss-gate-on")
	b.ReportMetric(median(added), "MiB-rss-added")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
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
