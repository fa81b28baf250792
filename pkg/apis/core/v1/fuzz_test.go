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
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/kubernetes/pkg/api/legacyscheme"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core/validation"
)

// fieldError is how every decoding error must read: the parameter, then why.
var fieldError = regexp.MustCompile(`(?s)^.*: Invalid value: `)

// FuzzDecodeQueryParameters decodes any query string the way the apiserver
// does and validates the result: it must never panic, a decoding error must
// name the parameter, and what passes validation must be a usable timeout
// and container name. go test -fuzz=FuzzDecodeQueryParameters ./pkg/apis/core/v1
func FuzzDecodeQueryParameters(f *testing.F) {
	for _, seed := range []string{"", "container=app", "timeoutSeconds=30", "timeoutSeconds=-1", "timeoutSeconds=abc",
		"container=a&container=b", "timeoutSeconds=1e3", "container=%00", "timeoutSeconds=9223372036854775807"} {
		f.Add(seed)
	}
	codec := runtime.NewParameterCodec(legacyscheme.Scheme)
	f.Fuzz(func(t *testing.T, query string) {
		values, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		opts := &core.PodCheckpointOptions{}
		if err := codec.DecodeParameters(values, checkpointv1.SchemeGroupVersion, opts); err != nil {
			if !fieldError.MatchString(err.Error()) {
				t.Fatalf("%q: decoding error without a field: %v", query, err)
			}
			return
		}
		if errs := validation.ValidatePodCheckpointOptions(opts, 30*time.Minute); len(errs) > 0 {
			return
		}
		if opts.TimeoutSeconds != nil && (*opts.TimeoutSeconds <= 0 || *opts.TimeoutSeconds > 1800) {
			t.Fatalf("%q: accepted timeoutSeconds %d", query, *opts.TimeoutSeconds)
		}
		if strings.ContainsAny(opts.Container, "/\x00 ") || len(opts.Container) > 63 {
			t.Fatalf("%q: accepted container %q", query, opts.Container)
		}
		if first := values["timeoutSeconds"]; len(first) > 0 {
			if want, _ := strconv.ParseInt(first[0], 10, 64); opts.TimeoutSeconds == nil || *opts.TimeoutSeconds != want {
				t.Fatalf("%q: timeoutSeconds decoded as %v, want %d", query, opts.TimeoutSeconds, want)
			}
		}
	})
}
