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

// Package api holds the tests that k8s.io/api runs for its types, for the
// checkpoint types: a fuzzed round trip through JSON and protobuf, and
// compatibility with the serialized fixtures of testdata/HEAD.
package api

import (
	"math/rand"
	"testing"

	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	genericfuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
)

func newScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := checkpointv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return scheme
}

func TestRoundTripExternalTypes(t *testing.T) {
	scheme := newScheme(t)
	codecs := serializer.NewCodecFactory(scheme)
	seed := rand.Int63()
	t.Logf("fuzzer seed %d", seed)
	roundtrip.RoundTripExternalTypes(t, scheme, codecs, fuzzer.FuzzerFor(genericfuzzer.Funcs, rand.NewSource(seed), codecs), nil)
}

// TestCompatibility fails when a field changes its serialized shape. After a
// deliberate change, UPDATE_COMPATIBILITY_FIXTURE_DATA=true go test rewrites
// testdata/HEAD.
func TestCompatibility(t *testing.T) {
	roundtrip.NewCompatibilityTestOptions(newScheme(t)).Complete(t).Run(t)
}
