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
	"strings"
	"testing"
)

const header = `/*
Copyright The kube-checkpoint Authors.
*/

`

func TestRewrite(t *testing.T) {
	for _, tc := range []struct {
		name, src, pkg, pkgName, want string
	}{{
		name: "our import paths become upstream's, and a package imported twice is imported once under upstream's name",
		pkg:  "k8s.io/kubernetes/pkg/registry/core/pod/rest",
		src: header + `package rest

import (
	"fmt"

	api "k8s.io/kubernetes/pkg/apis/core"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

var _ = fmt.Sprint(api.Pod{}, core.PodCheckpointOptions{}, checkpointv1.PodCheckpointResult{})
`,
		want: `/*
Copyright The Kubernetes Authors.
*/

package rest

import (
	"fmt"

	checkpointv1 "k8s.io/api/core/v1"
	api "k8s.io/kubernetes/pkg/apis/core"
)

var _ = fmt.Sprint(api.Pod{}, api.PodCheckpointOptions{}, checkpointv1.PodCheckpointResult{})
`,
	}, {
		name: "the package the file joins is no longer imported; its package comment is upstream's",
		pkg:  "k8s.io/kubernetes/pkg/registry/core/pod",
		src: header + `// Package pod is ours.
package pod

import (
	podregistry "k8s.io/kubernetes/pkg/registry/core/pod"
)

func f() { podregistry.ExecLocation() }
`,
		pkgName: "pod",
		want: `/*
Copyright The Kubernetes Authors.
*/

package pod

func f() { ExecLocation() }
`,
	}, {
		name: "an external test package keeps importing the package it tests; a local variable is not a package",
		pkg:  "k8s.io/client-go/kubernetes/typed/core/v1",
		src: header + `package v1_test

import (
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

func f(typedv1x int) { typedv1.New(nil); scheme := 1; _ = scheme }
`,
		want: `/*
Copyright The Kubernetes Authors.
*/

package v1_test

import (
	typedv1 "k8s.io/client-go/kubernetes/typed/core/v1"
)

func f(typedv1x int) { typedv1.New(nil); scheme := 1; _ = scheme }
`,
	}, {
		name: "another package name",
		pkg:  "k8s.io/kubernetes/pkg/registry/core/pod/rest",
		src: header + `package controlplane

import "time"

var D = time.Second
`,
		pkgName: "rest",
		want: `/*
Copyright The Kubernetes Authors.
*/

package rest

import (
	"time"
)

var D = time.Second
`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rewrite([]byte(tc.src), tc.pkg, tc.pkgName)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

func TestInsertAfter(t *testing.T) {
	dest := `package v1

// A is upstream's.
type A struct{}

// B is upstream's.
type B struct{}
`
	src := header + `package v1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// C is ours.
type C struct{ metav1.TypeMeta }
`
	got, err := InsertAfter([]byte(dest), []byte(src), "A")
	if err != nil {
		t.Fatal(err)
	}
	want := `package v1

// A is upstream's.
type A struct{}

// +k8s:deepcopy-gen:interfaces=k8s.io/apimachinery/pkg/runtime.Object

// C is ours.
type C struct{ metav1.TypeMeta }

// B is upstream's.
type B struct{}
`
	if string(got) != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	if _, err := InsertAfter([]byte(dest), []byte(src), "Missing"); err == nil || !strings.Contains(err.Error(), "type Missing not found") {
		t.Errorf("a missing type: %v", err)
	}
}

func TestUpstreamPath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/kube-checkpoint/client-go/api/core/v1":                 "k8s.io/api/core/v1",
		"github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1":    "k8s.io/client-go/kubernetes/typed/core/v1",
		"github.com/kube-checkpoint/kubectl/pkg/cmd/checkpoint":            "k8s.io/kubectl/pkg/cmd/checkpoint",
		"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest": "k8s.io/kubernetes/pkg/registry/core/pod/rest",
		"k8s.io/api/core/v1": "k8s.io/api/core/v1",
	} {
		if got := UpstreamPath(in); got != want {
			t.Errorf("UpstreamPath(%s) = %s, want %s", in, got, want)
		}
	}
}
