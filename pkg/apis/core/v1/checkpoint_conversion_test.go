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

package v1_test

import (
	"net/url"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubernetes/pkg/api/legacyscheme"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
	_ "github.com/kube-checkpoint/kubernetes/pkg/apis/core/install"
)

// TestDecodeQueryParameters decodes query strings the way the apiserver's
// connect handler does: url.Values -> v1 -> internal.
func TestDecodeQueryParameters(t *testing.T) {
	codec := runtime.NewParameterCodec(legacyscheme.Scheme)
	for _, tc := range []struct {
		query   string
		want    core.PodCheckpointOptions
		wantErr string
	}{
		{query: "", want: core.PodCheckpointOptions{}},
		{query: "container=app", want: core.PodCheckpointOptions{Container: "app"}},
		{query: "container=app&timeoutSeconds=30", want: core.PodCheckpointOptions{Container: "app", TimeoutSeconds: ptr.To[int64](30)}},
		{query: "timeoutSeconds=-5", want: core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](-5)}},
		// pretty is the apiserver's, taken on every endpoint.
		{query: "container=app&pretty=true", want: core.PodCheckpointOptions{Container: "app"}},
		{query: "pretty=true&pretty=false", wantErr: `pretty: Invalid value: "true,false": given 2 times: give it once`},
		// Strict where a mistake would silently change the checkpoint.
		{query: "timeoutSeconds=5&timeoutSeconds=9", wantErr: `timeoutSeconds: Invalid value: "5,9": given 2 times: give it once`},
		{query: "container=a&container=b", wantErr: `container: Invalid value: "a,b": given 2 times: give it once`},
		{query: "follow=true", wantErr: `follow: Invalid value: "true": not a parameter of pods/checkpoint, which takes "container" and "timeoutSeconds"`},
		{query: "timeout=10", wantErr: `timeout: Invalid value: "10": pods/checkpoint takes timeoutSeconds, a whole number of seconds`},
		{query: "Container=app", wantErr: `Container: Invalid value: "app": not a parameter of pods/checkpoint, which takes "container" and "timeoutSeconds"`},
		{query: "timeoutSeconds=abc", wantErr: `timeoutSeconds: Invalid value: "abc": must be a whole number of seconds`},
		{query: "timeoutSeconds=1.5", wantErr: `timeoutSeconds: Invalid value: "1.5": must be a whole number of seconds`},
		{query: "timeoutSeconds=", wantErr: `timeoutSeconds: Invalid value: "": must be a whole number of seconds`},
		{query: "timeoutSeconds=99999999999999999999", wantErr: `timeoutSeconds: Invalid value: "99999999999999999999": must be a whole number of seconds`},
	} {
		t.Run(tc.query, func(t *testing.T) {
			values, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got := &core.PodCheckpointOptions{}
			err = codec.DecodeParameters(values, checkpointv1.SchemeGroupVersion, got)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("got error %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Container != tc.want.Container || (got.TimeoutSeconds == nil) != (tc.want.TimeoutSeconds == nil) ||
				(got.TimeoutSeconds != nil && *got.TimeoutSeconds != *tc.want.TimeoutSeconds) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestEncodeQueryParameters is what a client sends.
func TestEncodeQueryParameters(t *testing.T) {
	codec := runtime.NewParameterCodec(legacyscheme.Scheme)
	values, err := codec.EncodeParameters(&checkpointv1.PodCheckpointOptions{Container: "app", TimeoutSeconds: ptr.To[int64](60)}, checkpointv1.SchemeGroupVersion)
	if err != nil {
		t.Fatal(err)
	}
	if got := values.Encode(); got != "container=app&timeoutSeconds=60" {
		t.Errorf("got %s", got)
	}
}
