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

package v1

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/util/validation/field"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
)

// Convert_url_Values_To_v1_PodCheckpointOptions decodes query parameters. It
// wraps the generated conversion to be strict where a mistake would silently
// change what the caller gets: a parameter pods/checkpoint does not take (the
// KEP's "timeout" would otherwise leave the default timeout in force), a
// parameter given twice, and a timeoutSeconds that is not a number are each
// reported as a field error instead of being ignored or a bare strconv message.
// "pretty", which the apiserver takes on every endpoint to indent its answer,
// is accepted and left to the response writer.
func Convert_url_Values_To_v1_PodCheckpointOptions(in *url.Values, out *checkpointv1.PodCheckpointOptions, s conversion.Scope) error {
	for _, name := range slices.Sorted(maps.Keys(*in)) {
		values := (*in)[name]
		switch {
		case name == "timeout":
			return field.Invalid(field.NewPath(name), strings.Join(values, ","), "pods/checkpoint takes timeoutSeconds, a whole number of seconds")
		case name != "container" && name != "timeoutSeconds" && name != "pretty":
			return field.Invalid(field.NewPath(name), strings.Join(values, ","), `not a parameter of pods/checkpoint, which takes "container" and "timeoutSeconds"`)
		case len(values) > 1:
			return field.Invalid(field.NewPath(name), strings.Join(values, ","), fmt.Sprintf("given %d times: give it once", len(values)))
		}
	}
	if values := (*in)["timeoutSeconds"]; len(values) > 0 {
		if _, err := strconv.ParseInt(values[0], 10, 64); err != nil {
			return field.Invalid(field.NewPath("timeoutSeconds"), values[0], "must be a whole number of seconds")
		}
	}
	return autoConvert_url_Values_To_v1_PodCheckpointOptions(in, out, s)
}
