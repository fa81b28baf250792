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

package checkpoint

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestAPISpecsEqualUpstreamPlusCheckpoint compares this repository's api/
// (hack/update-api-specs.sh) with upstream v1.37.2's own: the same files, the
// same content, but for the checkpoint path, its parameters and its result
// type. The diff a reviewer reads in api/ is then exactly the change.
func TestAPISpecsEqualUpstreamPlusCheckpoint(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes").Output()
	if err != nil {
		t.Fatal(err)
	}
	upstream := filepath.Join(strings.TrimSpace(string(out)), "api")
	ours := filepath.Join("..", "..", "..", "api")
	// What pods/checkpoint adds, file by file.
	checkpointOnly := map[string]func(*testing.T, map[string]any){
		"discovery/api__v1.json":               removeCheckpointResource,
		"openapi-spec/swagger.json":            removeCheckpointOpenAPI("definitions"),
		"openapi-spec/v3/api__v1_openapi.json": removeCheckpointOpenAPI("components", "schemas"),
	}

	upstreamFiles, ourFiles := specFiles(t, upstream), specFiles(t, ours)
	if diff := cmp.Diff(upstreamFiles, ourFiles); diff != "" {
		t.Fatalf("api/ has other files than upstream's (-upstream +ours):\n%s", diff)
	}
	for _, file := range ourFiles {
		t.Run(file, func(t *testing.T) {
			want, got := readJSON(t, filepath.Join(upstream, file)), readJSON(t, filepath.Join(ours, file))
			if remove, ok := checkpointOnly[file]; ok {
				remove(t, got)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("differs from upstream's by more than pods/checkpoint (-upstream +ours):\n%s", diff)
			}
		})
	}

	// The checkpoint types break no API rule: every violation openapi-gen
	// reports here is one upstream lists too.
	upstreamRules, err := os.ReadFile(filepath.Join(upstream, "api-rules", "violation_exceptions.list"))
	if err != nil {
		t.Fatal(err)
	}
	ourRules, err := os.ReadFile(filepath.Join(ours, "api-rules", "violation_exceptions.list"))
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range strings.Split(strings.TrimSpace(string(ourRules)), "\n") {
		if !strings.Contains(string(upstreamRules), rule+"\n") {
			t.Errorf("a rule violation upstream does not have: %s", rule)
		}
	}
}

// specFiles lists the JSON files under dir/discovery and dir/openapi-spec.
func specFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	for _, sub := range []string{"discovery", "openapi-spec"} {
		err := filepath.WalkDir(filepath.Join(dir, sub), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
				rel, _ := filepath.Rel(dir, path)
				files = append(files, rel)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return files
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return doc
}
