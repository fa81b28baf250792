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

package validation

import (
	"testing"
	"time"

	"k8s.io/utils/ptr"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

func TestValidatePodCheckpointOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts core.PodCheckpointOptions
		want string
	}{
		{name: "defaults", opts: core.PodCheckpointOptions{}},
		{name: "container and timeout", opts: core.PodCheckpointOptions{Container: "app-1", TimeoutSeconds: ptr.To[int64](600)}},
		{name: "timeout at the cap", opts: core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](600)}},
		{name: "timeout above the cap", opts: core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](601)},
			want: "timeoutSeconds: Invalid value: 601: must be at most 600 (kube-apiserver --checkpoint-max-timeout)"},
		{name: "zero timeout", opts: core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](0)},
			want: "timeoutSeconds: Invalid value: 0: must be greater than 0"},
		{name: "negative timeout", opts: core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](-1)},
			want: "timeoutSeconds: Invalid value: -1: must be greater than 0"},
		{name: "container with a slash", opts: core.PodCheckpointOptions{Container: "../etc"},
			want: `container: Invalid value: "../etc": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := ValidatePodCheckpointOptions(&tc.opts, 10*time.Minute)
			if got := errs.ToAggregate(); (got == nil) != (tc.want == "") || (got != nil && got.Error() != tc.want) {
				t.Errorf("got %v, want %q", got, tc.want)
			}
		})
	}
}
