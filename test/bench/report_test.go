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
	"testing"
	"time"
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
