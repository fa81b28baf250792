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
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWritePlot draws a PNG from the samples of two memory levels, and one
// when the memory sweep measured nothing.
func TestWritePlot(t *testing.T) {
	for name, levels := range map[string][]memoryLevel{
		"two levels": {
			{mib: 16, samples: map[string][]sample{pathAPI: {{took: 300 * time.Millisecond}, {took: 320 * time.Millisecond}}, pathCrictl: {{took: 280 * time.Millisecond}}}},
			{mib: 256, samples: map[string][]sample{pathAPI: {{took: 1200 * time.Millisecond}}, pathCrictl: {{took: 1100 * time.Millisecond}, {took: 1150 * time.Millisecond}}}},
		},
		"no level":           nil,
		"a path that failed": {{mib: 16, samples: map[string][]sample{pathAPI: {{took: 300 * time.Millisecond}}}}},
	} {
		t.Run(name, func(t *testing.T) { expectPlot(t, levels) })
	}
}

func expectPlot(t *testing.T, levels []memoryLevel) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "plot.png")
	if err := writePlot(out, levels); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 300 {
		t.Errorf("a %dx%d picture", b.Dx(), b.Dy())
	}
}
