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

package utils

import (
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		v    []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{0.9, 0.2, 0.5}, 0.5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := slices.Clone(tc.v)
		if got := Median(in); got != tc.want {
			t.Errorf("Median(%v) = %v, want %v", tc.v, got, tc.want)
		}
		if !slices.Equal(in, tc.v) {
			t.Errorf("Median(%v) reordered its input to %v", tc.v, in)
		}
	}
}

func TestMissed(t *testing.T) {
	for _, tc := range []struct {
		targets []Target
		want    string
	}{
		{nil, "missed=none"},
		{[]Target{{Name: "ratio", Value: 1.02, Limit: 1.02}, {Name: "throughput", Value: 0.9, Limit: 0.9, AtLeast: true}}, "missed=none"},
		{[]Target{{Name: "ratio", Value: 1.021, Limit: 1.02}, {Name: "own", Value: 1, Limit: 2}, {Name: "throughput", Value: 0.89, Limit: 0.9, AtLeast: true}}, "missed=ratio,throughput"},
	} {
		if got := Missed(tc.targets); got != tc.want {
			t.Errorf("Missed(%+v) = %q, want %q", tc.targets, got, tc.want)
		}
	}
	if got := (Target{Limit: 1.02}).String() + " " + (Target{Limit: 0.9, AtLeast: true}).String(); got != "≤ 1.02 ≥ 0.9" {
		t.Errorf("goals shown as %q", got)
	}
}
