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
	"math"
	"strings"
	"testing"
	"time"

	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// TestGoals: the tables show each target as the summary line's missed=
// judges it, from the one list of targets.
func TestGoals(t *testing.T) {
	r := &report{ha: &haReport{}, disk: &diskReport{}}
	for name, want := range map[string]string{
		"ratio_vs_nodes_proxy":   "≤ 1.02",
		"throughput32_ratio_one": "≥ 0.9",
		"ha_added_ms":            "≤ 10",
		"throughput32_ratio":     "≥ 0.9",
		"writes_per_checkpoint":  "≤ 3",
		"summary_added_ms":       "≤ 1",
	} {
		if got := r.goal(name); got != want {
			t.Errorf("goal(%q) = %q, want %q", name, got, want)
		}
	}
}

// TestRatioInterval: the bootstrap interval of a/b holds the ratio of the
// medians, is a point when neither path varies, and is wide when the paths
// vary as much as the kubelet does.
func TestRatioInterval(t *testing.T) {
	samples := func(ms ...int) []sample {
		var s []sample
		for _, m := range ms {
			s = append(s, sample{took: time.Duration(m) * time.Millisecond})
		}
		return s
	}
	flat := &report{paths: map[string][]sample{pathAPI: samples(102, 102, 102), pathProxy: samples(100, 100, 100)}}
	if lo, hi := flat.ratioInterval(pathProxy); lo != 1.02 || hi != 1.02 {
		t.Errorf("paths that do not vary: interval %.3f – %.3f, want 1.020 – 1.020", lo, hi)
	}
	varied := &report{paths: map[string][]sample{
		pathAPI:   samples(300, 350, 400, 410, 420, 450, 500, 540),
		pathProxy: samples(320, 340, 370, 380, 400, 405, 420, 430),
	}}
	lo, hi := varied.ratioInterval(pathProxy)
	if ratio := varied.ratio(pathProxy); lo > ratio || hi < ratio || hi-lo < 0.1 {
		t.Errorf("paths that vary: interval %.3f – %.3f around %.3f, want it to hold the ratio and be at least 0.1 wide", lo, hi, ratio)
	}
}

// TestSameKubelet: a/b with the kubelet's time made equal is the kubelet's
// median plus each path's own part, one over the other, however much the
// kubelet varies; its interval is narrow where the raw ratio's is wide; and
// without the kubelet's metric it is NaN, which misses its target.
func TestSameKubelet(t *testing.T) {
	ms := time.Millisecond
	// The kubelet takes 200–290 ms; (a) adds 5 ms, (b) 3 ms.
	var a, b []sample
	for i := range 10 {
		served := time.Duration(200+10*((i*7)%10)) * ms
		a = append(a, sample{took: served + 5*ms, served: served})
		served = time.Duration(200+10*((i*3)%10)) * ms
		b = append(b, sample{took: served + 3*ms, served: served})
	}
	a[0].took += 100 * ms // the raw medians move by the kubelet's spread
	r := &report{paths: map[string][]sample{pathAPI: a, pathProxy: b}}
	want := float64(245+5) / float64(245+3)
	if got := r.sameKubelet(pathProxy); math.Abs(got-want) > 1e-9 {
		t.Errorf("sameKubelet = %.4f, want %.4f", got, want)
	}
	lo, hi := r.sameKubeletInterval(pathProxy)
	rawLo, rawHi := r.ratioInterval(pathProxy)
	if lo > want || hi < want || hi-lo > 0.01 || rawHi-rawLo < 0.05 {
		t.Errorf("interval %.3f – %.3f (raw %.3f – %.3f), want it to hold %.3f, at most 0.01 wide, and the raw one at least 0.05", lo, hi, rawLo, rawHi, want)
	}
	for i := range b {
		b[i].served = 0
	}
	if got := r.sameKubelet(pathProxy); !math.IsNaN(got) {
		t.Errorf("without the kubelet's metric for (b): %.3f, want NaN", got)
	}
	if missed := testutils.Missed(r.targets()); !strings.Contains(missed, "ratio_vs_nodes_proxy") {
		t.Errorf("without the kubelet's metric: %s, want ratio_vs_nodes_proxy missed", missed)
	}
}

// TestCheckpointsServed reads the kubelet's POST /checkpoint series from its
// metrics, and the time of one checkpoint between two readings.
func TestCheckpointsServed(t *testing.T) {
	text := `# HELP kubelet_http_requests_duration_seconds [ALPHA] Duration in seconds to serve http requests
kubelet_http_requests_duration_seconds_bucket{long_running="false",method="POST",path="checkpoint",server_type="readwrite",le="0.5"} 3
kubelet_http_requests_duration_seconds_sum{long_running="false",method="GET",path="metrics",server_type="readwrite"} 9.5
kubelet_http_requests_duration_seconds_sum{long_running="false",method="POST",path="checkpoint",server_type="readwrite"} 0.75
kubelet_http_requests_duration_seconds_count{long_running="false",method="POST",path="checkpoint",server_type="readwrite"} 3
kubelet_http_requests_duration_seconds_count{long_running="false",method="GET",path="metrics",server_type="readwrite"} 40
`
	before, err := checkpointsServed([]byte(text))
	if err != nil || before != (served{seconds: 0.75, count: 3}) {
		t.Fatalf("checkpointsServed = %+v, %v; want 0.75 s over 3", before, err)
	}
	after := served{seconds: 1.0, count: 4}
	if got := after.since(before); got != 250*time.Millisecond {
		t.Errorf("one checkpoint between: %v, want 250ms", got)
	}
	if got := (served{seconds: 1.5, count: 5}).since(before); got != 0 {
		t.Errorf("two checkpoints between: %v, want 0 (unknown)", got)
	}
	if none, err := checkpointsServed([]byte("# nothing served yet\n")); err != nil || none != (served{}) {
		t.Errorf("no checkpoint served yet: %+v, %v; want zero", none, err)
	}
	bad := strings.Replace(text, "} 3\nkubelet_http_requests_duration_seconds_count", "} 3\nx", 1)
	bad = strings.Replace(bad, "} 0.75", "} many", 1)
	if _, err := checkpointsServed([]byte(bad)); err == nil || !strings.Contains(err.Error(), "many") {
		t.Errorf("a value that is no number: %v, want an error naming it", err)
	}
}
