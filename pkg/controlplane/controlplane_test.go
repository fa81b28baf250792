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

package controlplane

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"
	kubeletclient "k8s.io/kubernetes/pkg/kubelet/client"
)

func TestAPIVersionPrioritiesAreUpstreams(t *testing.T) {
	// The linked table is upstream's: it knows the core group and more than
	// the generic defaults.
	if _, ok := apiVersionPriorities[schema.GroupVersion{Version: "v1"}]; !ok {
		t.Fatal("apiVersionPriorities lacks core/v1: the go:linkname no longer reaches upstream's table")
	}
	if len(apiVersionPriorities) <= len(controlplaneapiserver.DefaultGenericAPIServicePriorities()) {
		t.Errorf("apiVersionPriorities has %d entries, no more than the generic defaults", len(apiVersionPriorities))
	}
}

func TestCheckLinkedPriorities(t *testing.T) {
	if err := checkLinkedPriorities(apiVersionPriorities); err != nil {
		t.Fatal(err)
	}
	// What the server would link to if upstream renamed its table.
	err := checkLinkedPriorities(nil)
	if err == nil || !strings.Contains(err.Error(), "lack core/v1") || !strings.Contains(err.Error(), "pkg/controlplane/server.go") {
		t.Errorf("got %v, want an error naming the missing core/v1 and the file to update", err)
	}
}

func TestCheckpointIsLongRunning(t *testing.T) {
	upstream := func(*http.Request, *apirequest.RequestInfo) bool { return false }
	check := withCheckpointLongRunning(upstream)
	for _, tc := range []struct {
		info *apirequest.RequestInfo
		want bool
	}{
		{&apirequest.RequestInfo{IsResourceRequest: true, Resource: "pods", Subresource: "checkpoint", Verb: "create"}, true},
		{&apirequest.RequestInfo{IsResourceRequest: true, Resource: "pods", Subresource: "status"}, false},
		{&apirequest.RequestInfo{IsResourceRequest: true, APIGroup: "example.com", Resource: "pods", Subresource: "checkpoint"}, false},
		{&apirequest.RequestInfo{IsResourceRequest: true, Resource: "nodes", Subresource: "checkpoint"}, false},
		{nil, false},
	} {
		if got := check(nil, tc.info); got != tc.want {
			t.Errorf("%+v: got %v, want %v", tc.info, got, tc.want)
		}
	}
}

func TestCheckpointDefinitionsKeepUpstreams(t *testing.T) {
	upstream := func(common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		return map[string]common.OpenAPIDefinition{
			"io.k8s.apimachinery.pkg.apis.meta.v1.Time": {Schema: spec.Schema{SchemaProps: spec.SchemaProps{Description: "upstream"}}},
		}
	}
	defs := withCheckpointDefinitions(upstream)(func(string) spec.Ref { return spec.Ref{} })
	if defs["io.k8s.apimachinery.pkg.apis.meta.v1.Time"].Schema.Description != "upstream" {
		t.Error("an upstream model was replaced")
	}
	for _, name := range []string{"io.k8s.api.core.v1.PodCheckpointOptions", "io.k8s.api.core.v1.PodCheckpointResult"} {
		if _, ok := defs[name]; !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestCheckpointOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		def, max time.Duration
		want     string
	}{
		{2 * time.Minute, 30 * time.Minute, ""},
		{time.Second, time.Second, ""},
		{0, time.Minute, "--checkpoint-default-timeout must be a whole number of seconds, at least 1s, got 0s"},
		{1500 * time.Millisecond, time.Minute, "--checkpoint-default-timeout must be a whole number of seconds, at least 1s, got 1.5s"},
		{time.Hour, time.Minute, "--checkpoint-default-timeout (1h0m0s) must not exceed --checkpoint-max-timeout (1m0s)"},
	} {
		err := utilerrors.NewAggregate((&CheckpointOptions{DefaultTimeout: tc.def, MaxTimeout: tc.max}).Validate())
		if (err == nil) != (tc.want == "") || (err != nil && err.Error() != tc.want) {
			t.Errorf("%s/%s: got %v, want %q", tc.def, tc.max, err, tc.want)
		}
	}
}

// TestCheckpointRefuseNodeConditionsFlag: the default, a value of the
// operator's, an empty value that refuses none, and a value Validate refuses.
func TestCheckpointRefuseNodeConditionsFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
		err  string
	}{
		{want: "[Ready=False Ready=Unknown DiskPressure=True]"},
		{args: []string{"--checkpoint-refuse-node-conditions=DiskPressure=True,MemoryPressure=True"}, want: "[DiskPressure=True MemoryPressure=True]"},
		{args: []string{"--checkpoint-refuse-node-conditions="}, want: "[]"},
		{args: []string{"--checkpoint-refuse-node-conditions=DiskPressure"}, want: "[]",
			err: `--checkpoint-refuse-node-conditions=DiskPressure: "DiskPressure" is not a node condition: write TYPE=STATUS, such as DiskPressure=True`},
	} {
		o := NewCheckpointOptions()
		fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
		o.AddFlags(fs)
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		err := utilerrors.NewAggregate(o.Validate())
		if (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("%q: got %v, want %q", tc.args, err, tc.err)
		}
		if got := fmt.Sprint(o.NodeConditions()); got != tc.want {
			t.Errorf("%q: conditions %s, want %s", tc.args, got, tc.want)
		}
	}
	if fmt.Sprint(NewCheckpointOptions().RefuseNodeConditions) != "[Ready=False Ready=Unknown DiskPressure=True]" {
		t.Error("parsing a flag changed the default of the next")
	}
}

type notCore struct {
	controlplaneapiserver.RESTStorageProvider
}

func (notCore) GroupName() string { return "apps" }

type coreWithoutHook struct {
	controlplaneapiserver.RESTStorageProvider
}

func (coreWithoutHook) GroupName() string { return "" }

func TestWithCheckpointRefusesWhatItCannotDecorate(t *testing.T) {
	opts := NewCheckpointOptions()
	if _, err := withCheckpoint(notCore{}, opts, nil, nil, kubeletclient.KubeletClientConfig{}); err == nil || err.Error() != `expected the core storage provider first, got group "apps"` {
		t.Errorf("got %v", err)
	}
	if _, err := withCheckpoint(coreWithoutHook{}, opts, nil, nil, kubeletclient.KubeletClientConfig{}); err == nil || err.Error() != "the core storage provider controlplane.coreWithoutHook no longer has a post-start hook" {
		t.Errorf("got %v", err)
	}
	var _ genericapiserver.PostStartHookProvider = &legacyProviderWithCheckpoint{}
}
