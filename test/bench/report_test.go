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

import "testing"

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
