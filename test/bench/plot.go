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
	"image/color"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var seriesColor = map[string]color.RGBA{pathAPI: {31, 119, 180, 255}, pathCrictl: {255, 127, 14, 255}}

// writePlot draws checkpoint time (s) against the memory the container held
// (MiB, log scale): every sample as a dot, the medians joined by a line,
// one colour per path.
func writePlot(path string, levels []memoryLevel) error {
	p := plot.New()
	p.Title.Text = "Checkpoint time against the memory the container holds (make bench)"
	p.X.Label.Text = "memory held by the container, MiB (log scale)"
	p.Y.Label.Text = "seconds"
	p.X.Scale = plot.LogScale{}
	var ticks []plot.Tick
	for _, l := range levels {
		ticks = append(ticks, plot.Tick{Value: float64(l.mib), Label: strconv.Itoa(l.mib)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	// Room for the dots beside the first and the last level; a log scale
	// needs a range above zero even with no level measured.
	p.X.Min, p.X.Max = 16*0.8, 1024*1.25
	if len(levels) > 0 {
		p.X.Min, p.X.Max = float64(levels[0].mib)*0.8, float64(levels[len(levels)-1].mib)*1.25
	}
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true

	for i, path := range []string{pathAPI, pathCrictl} {
		var samples, medians plotter.XYs
		for _, l := range levels {
			// The two paths' dots sit a little apart at each level.
			x := float64(l.mib) * (1 + 0.04*float64(2*i-1))
			for _, s := range l.samples[path] {
				samples = append(samples, plotter.XY{X: x, Y: s.took.Seconds()})
			}
			medians = append(medians, plotter.XY{X: float64(l.mib), Y: statsOf(took(l.samples[path])).median.Seconds()})
		}
		dots, err := plotter.NewScatter(samples)
		if err != nil {
			return err
		}
		dots.GlyphStyle = draw.GlyphStyle{Color: seriesColor[path], Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
		line, err := plotter.NewLine(medians)
		if err != nil {
			return err
		}
		line.Color, line.Width = seriesColor[path], vg.Points(1.5)
		p.Add(dots, line)
		p.Legend.Add(pathNames[path], line, dots)
	}
	p.Y.Max *= 1.1 // room for the legend
	return p.Save(9*vg.Inch, 5.4*vg.Inch, path)
}
