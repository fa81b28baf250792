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
	"net/url"
	"strconv"

	"k8s.io/apimachinery/pkg/conversion"
	"k8s.io/apimachinery/pkg/util/validation/field"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
)

// Convert_url_Values_To_v1_PodCheckpointOptions decodes query parameters. It
// wraps the generated conversion so that a timeoutSeconds that is not a number
// is reported as a field error instead of a bare strconv message.
func Convert_url_Values_To_v1_PodCheckpointOptions(in *url.Values, out *checkpointv1.PodCheckpointOptions, s conversion.Scope) error {
	if values := (*in)["timeoutSeconds"]; len(values) > 0 {
		if _, err := strconv.ParseInt(values[0], 10, 64); err != nil {
			return field.Invalid(field.NewPath("timeoutSeconds"), values[0], "must be a whole number of seconds")
		}
	}
	return autoConvert_url_Values_To_v1_PodCheckpointOptions(in, out, s)
}
