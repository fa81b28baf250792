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
	"fmt"
	"strings"
)

// Target is a figure a benchmark measured beside the goal it has.
type Target struct {
	// Name is how the summary line names it.
	Name  string
	Value float64
	Limit float64
	// AtLeast: the value must reach the limit; otherwise stay under it.
	AtLeast bool
}

// Met reports whether the figure meets its goal.
func (t Target) Met() bool {
	if t.AtLeast {
		return t.Value >= t.Limit
	}
	return t.Value <= t.Limit
}

// String is the goal as a table shows it: "≤ 1.02".
func (t Target) String() string {
	op := "≤"
	if t.AtLeast {
		op = "≥"
	}
	return fmt.Sprintf("%s %g", op, t.Limit)
}

// Missed ends a benchmark's summary line: "missed=" and the names of the
// figures that missed their goals, or "missed=none".
func Missed(targets []Target) string {
	var names []string
	for _, t := range targets {
		if !t.Met() {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return "missed=none"
	}
	return "missed=" + strings.Join(names, ",")
}
