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
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

var bounding = map[string]bool{"CAP_CHOWN": true, "CAP_SYS_ADMIN": true}

func TestFilterConfig(t *testing.T) {
	config := `{"ociVersion":"1.2.0","process":{"args":["/sbin/init"],"capabilities":{` +
		`"bounding":["CAP_CHOWN","CAP_MAC_OVERRIDE","CAP_SYS_ADMIN"],"effective":["CAP_MAC_OVERRIDE"],"permitted":["CAP_CHOWN"]}},"root":{"path":"rootfs"}}`
	out, changed, err := filter([]byte(config), bounding)
	if err != nil || !changed {
		t.Fatalf("filter: changed %v, %v", changed, err)
	}
	var got struct {
		OCIVersion string `json:"ociVersion"`
		Process    struct {
			Args         []string            `json:"args"`
			Capabilities map[string][]string `json:"capabilities"`
		} `json:"process"`
		Root map[string]string `json:"root"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"bounding": {"CAP_CHOWN", "CAP_SYS_ADMIN"}, "effective": {}, "permitted": {"CAP_CHOWN"}}
	if !reflect.DeepEqual(got.Process.Capabilities, want) {
		t.Errorf("capabilities %v, want %v", got.Process.Capabilities, want)
	}
	if got.OCIVersion != "1.2.0" || !reflect.DeepEqual(got.Process.Args, []string{"/sbin/init"}) || got.Root["path"] != "rootfs" {
		t.Errorf("the rest of the config changed: %s", out)
	}
}

func TestFilterProcessFile(t *testing.T) {
	// docker exec --privileged: the process alone, with every capability.
	dir := t.TempDir()
	file := filepath.Join(dir, "process.json")
	if err := os.WriteFile(file, []byte(`{"args":["true"],"capabilities":{"effective":["CAP_SYS_ADMIN","CAP_MAC_OVERRIDE"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := filterFile(file, bounding); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(file)
	if string(raw) != `{"args":["true"],"capabilities":{"effective":["CAP_SYS_ADMIN"]}}` {
		t.Errorf("process file %s", raw)
	}
}

func TestFilterUnchanged(t *testing.T) {
	for _, doc := range []string{
		`{"process":{"capabilities":{"bounding":["CAP_CHOWN"]}}}`,
		`{"process":{"args":["sh"]}}`,
	} {
		out, changed, err := filter([]byte(doc), bounding)
		if err != nil || changed || string(out) != doc {
			t.Errorf("filter(%s) = %s, changed %v, %v: want it as it was", doc, out, changed, err)
		}
	}
	if _, _, err := filter([]byte(`{"process":`), bounding); err == nil {
		t.Error("a truncated config was accepted")
	}
}

func TestBoundingSetNamesThisProcess(t *testing.T) {
	set, err := boundingSet()
	if err != nil {
		t.Fatal(err)
	}
	// Every process here, root or not, has CAP_CHOWN in its bounding set.
	if !set["CAP_CHOWN"] {
		t.Errorf("bounding set %v: no CAP_CHOWN", set)
	}
}
