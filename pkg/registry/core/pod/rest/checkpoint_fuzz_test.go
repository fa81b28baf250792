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

package rest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	api "k8s.io/kubernetes/pkg/apis/core"

	"github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod"
)

// The fuzz targets of what the apiserver reads from a node and its kubelet.
// Their seed corpora are in testdata/fuzz and run with every go test; make
// fuzz runs each for FUZZTIME, and every crash found is kept there as a row.

// quotable is what may reach an API error, an Event or a log line from a
// node: valid UTF-8 without control characters.
func quotable(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) || strings.ContainsFunc(s, unicode.IsControl) {
		t.Fatalf("%s %q quotes what the node sent unescaped", what, s)
	}
}

// FuzzKubeletAnswer maps any answer of a kubelet (status and body) of a node
// reporting any runtime: never a panic, always a status a user can act on
// among those the error table lists, whose message quotes the node safely
// and within bounds; a 200 either names archives or is a 500.
// go test -fuzz=FuzzKubeletAnswer ./pkg/registry/core/pod/rest
func FuzzKubeletAnswer(f *testing.F) {
	for _, seed := range []struct {
		code          int
		body, runtime string
	}{
		{200, `{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`, "containerd://2.2.9"},
		{200, `{"items":[]}`, "containerd://2.2.9"},
		{200, `not json`, ""},
		{404, "404 page not found", "containerd://1.7.35"},
		{404, "container app does not exist", "containerd://2.2.9"},
		{403, "Forbidden", "containerd://2.2.9"},
		{500, "checkpointing of default/web/app failed (rpc error: code = Unimplemented desc = unknown method CheckpointContainer)", "containerd://1.7.35"},
		{500, "rpc error: code = DeadlineExceeded desc = context deadline exceeded", "cri-o://1.34.0"},
		{500, "criu support is disabled by configuration", "containerd://2.4.2"},
		{500, "dump failed\x1b[2J\nE1130 forged\x00", "containerd://2.2.9"},
		{502, strings.Repeat("é", 2000), "x://\x1b"},
	} {
		f.Add(seed.code, []byte(seed.body), seed.runtime)
	}
	allowed := []int32{404, 500, 501, 504}
	f.Fuzz(func(t *testing.T, code int, body []byte, runtime string) {
		target := &pod.CheckpointTarget{Pod: runningPod(), Container: "app",
			NodeStatus: api.NodeStatus{NodeInfo: api.NodeSystemInfo{ContainerRuntimeVersion: runtime}}}
		h := &checkpointHandler{target: target, timeout: time.Minute}
		var err error
		if code == 200 {
			var paths []string
			if paths, err = archivePaths("node1", body); err == nil {
				if len(paths) == 0 {
					t.Fatalf("%q: no archive and no error", body)
				}
				return
			}
		} else {
			err = h.kubeletError(code, kubeletText(body))
		}
		status, ok := err.(apierrors.APIStatus)
		if !ok {
			t.Fatalf("HTTP %d %q: %T %v is no API status", code, body, err, err)
		}
		if c := status.Status().Code; !slices.Contains(allowed, c) {
			t.Fatalf("HTTP %d %q: answered %d, not one of %v", code, body, c, allowed)
		}
		msg := status.Status().Message
		quotable(t, "message", msg)
		// The kubelet's words are quoted at most once or twice, each bounded.
		if len(msg) > 3*maxKubeletText+1024 {
			t.Fatalf("HTTP %d: a message of %d bytes", code, len(msg))
		}
	})
}

// FuzzArchiveName checks the archive name the apiserver computes against the
// one the kubelet writes (fmt.Sprintf as in pkg/kubelet/kubelet.go of v1.34
// to v1.37): refused exactly when the kubelet's name would be longer than a
// file name may be, with a message that says by how much.
// go test -fuzz=FuzzArchiveName ./pkg/registry/core/pod/rest
func FuzzArchiveName(f *testing.F) {
	f.Add("web", "default", "app")
	f.Add(strings.Repeat("p", 207), "default", "app")
	f.Add(strings.Repeat("p", 208), "default", "app")
	f.Add(strings.Repeat("a", 253), strings.Repeat("n", 63), strings.Repeat("c", 63))
	f.Add("", "", "")
	f.Fuzz(func(t *testing.T, name, namespace, container string) {
		p := runningPod()
		p.Name, p.Namespace = name, namespace
		target := &pod.CheckpointTarget{Pod: p, Container: container}
		podFullName := name + "_" + namespace
		kubelets := fmt.Sprintf("checkpoint-%s-%s-%s.tar", podFullName, container, time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC).Format(time.RFC3339))
		if got := archiveNameLength(target); got != len(kubelets) {
			t.Fatalf("computed %d bytes, the kubelet writes %d: %q", got, len(kubelets), kubelets)
		}
		err := archiveNameTooLong(target)
		if (err != nil) != (len(kubelets) > maxArchiveName) {
			t.Fatalf("%d bytes: refused %v", len(kubelets), err)
		}
		if err == nil {
			return
		}
		if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), fmt.Sprintf("shorten them by %d", len(kubelets)-maxArchiveName)) {
			t.Fatalf("%d bytes: %v", len(kubelets), err)
		}
	})
}

// FuzzParseNodeConditions reads any --checkpoint-refuse-node-conditions:
// never a panic, and what it accepts reads back the same written out.
// go test -fuzz=FuzzParseNodeConditions ./pkg/registry/core/pod/rest
func FuzzParseNodeConditions(f *testing.F) {
	f.Add(strings.Join(DefaultRefuseNodeConditions, ","))
	f.Add("DiskPressure")
	f.Add(" Ready = Unknown ,,")
	f.Add("example.com/Draining=True")
	f.Fuzz(func(t *testing.T, flag string) {
		conditions, err := ParseNodeConditions(strings.Split(flag, ","))
		if err != nil {
			return
		}
		var written []string
		for _, c := range conditions {
			if c.Type == "" || !slices.Contains([]api.ConditionStatus{api.ConditionTrue, api.ConditionFalse, api.ConditionUnknown}, c.Status) {
				t.Fatalf("%q: accepted %#v", flag, c)
			}
			written = append(written, c.String())
		}
		again, err := ParseNodeConditions(written)
		if err != nil || !slices.Equal(again, conditions) {
			t.Fatalf("%q: read %v, written %q, read again %v, %v", flag, conditions, written, again, err)
		}
	})
}
