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
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"strconv"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

const (
	plotW, plotH                       = 900, 540
	marginL, marginR, marginT, marginB = 80, 30, 50, 70
)

var (
	black     = color.RGBA{0, 0, 0, 255}
	grey      = color.RGBA{220, 220, 220, 255}
	seriesCol = map[string]color.RGBA{pathAPI: {31, 119, 180, 255}, pathCrictl: {255, 127, 14, 255}}
)

// writePlot draws checkpoint time (s) against the memory the container held
// (MiB, log scale): every sample as a dot, the medians joined by a line,
// one colour per path.
func writePlot(path string, levels []memoryLevel) error {
	img := image.NewRGBA(image.Rect(0, 0, plotW, plotH))
	draw.Draw(img, img.Bounds(), image.White, image.Point{}, draw.Src)

	lo, hi, ymax := math.Inf(1), math.Inf(-1), 0.0
	for _, l := range levels {
		x := math.Log2(float64(l.mib))
		lo, hi = math.Min(lo, x), math.Max(hi, x)
		for _, samples := range l.samples {
			for _, s := range samples {
				ymax = math.Max(ymax, s.took.Seconds())
			}
		}
	}
	if len(levels) == 0 {
		lo, hi, ymax = 4, 10, 1
	}
	if hi-lo < 1 {
		lo, hi = lo-1, hi+1
	}
	lo, hi = lo-0.25, hi+0.25
	step := niceStep(ymax / 5)
	ymax = math.Ceil(ymax/step) * step
	if ymax == 0 {
		ymax, step = 1, 0.2
	}
	left, right, top, bottom := marginL, plotW-marginR, marginT, plotH-marginB
	px := func(mib float64) int {
		return left + int((math.Log2(mib)-lo)/(hi-lo)*float64(right-left))
	}
	py := func(s float64) int { return bottom - int(s/ymax*float64(bottom-top)) }

	for v := 0.0; v <= ymax+step/2; v += step {
		y := py(v)
		line(img, left, y, right, y, grey, 1)
		label := strconv.FormatFloat(v, 'f', decimals(step), 64)
		text(img, left-8-7*len(label), y+4, label)
	}
	for _, l := range levels {
		x := px(float64(l.mib))
		line(img, x, bottom, x, bottom+5, black, 1)
		label := strconv.Itoa(l.mib)
		text(img, x-7*len(label)/2, bottom+20, label)
	}
	line(img, left, bottom, right, bottom, black, 1)
	line(img, left, top, left, bottom, black, 1)
	text(img, left, 25, "Checkpoint time against the memory the container holds (make bench)")
	text(img, (left+right)/2-170, plotH-20, "memory held by the container, MiB (log scale)")
	text(img, 10, top-10, "seconds")

	for i, p := range []string{pathAPI, pathCrictl} {
		c := seriesCol[p]
		var prevX, prevY int
		for j, l := range levels {
			x := px(float64(l.mib))
			for _, s := range l.samples[p] {
				dot(img, x+(i*2-1)*4, py(s.took.Seconds()), c)
			}
			mx, my := x, py(statsOf(took(l.samples[p])).median.Seconds())
			if j > 0 {
				line(img, prevX, prevY, mx, my, c, 2)
			}
			prevX, prevY = mx, my
		}
		ly := top + 15 + 20*i
		line(img, left+20, ly-4, left+50, ly-4, c, 3)
		text(img, left+58, ly, pathNames[p])
	}

	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 {
		return 0.2
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

func decimals(step float64) int {
	if step >= 1 {
		return 0
	}
	return int(math.Ceil(-math.Log10(step)))
}

func text(img *image.RGBA, x, y int, s string) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(black), Face: basicfont.Face7x13, Dot: fixed.P(x, y)}
	d.DrawString(s)
}

func dot(img *image.RGBA, x, y int, c color.RGBA) {
	draw.Draw(img, image.Rect(x-3, y-3, x+4, y+4), image.NewUniform(c), image.Point{}, draw.Src)
}

// line draws from (x0,y0) to (x1,y1), width pixels wide.
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, width int) {
	steps := max(abs(x1-x0), abs(y1-y0), 1)
	for i := 0; i <= steps; i++ {
		x := x0 + (x1-x0)*i/steps
		y := y0 + (y1-y0)*i/steps
		for w := 0; w < width; w++ {
			img.Set(x, y+w-width/2, c)
			if abs(y1-y0) > abs(x1-x0) {
				img.Set(x+w-width/2, y, c)
			}
		}
	}
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}
