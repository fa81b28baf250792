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
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

// fakeBinaries writes a stand-in binary for every platform into a new
// directory, and a license.
func fakeBinaries(t *testing.T) (bin, license string) {
	t.Helper()
	bin = t.TempDir()
	for _, p := range Platforms {
		if err := os.WriteFile(filepath.Join(bin, p.BuiltAs()), []byte("binary for "+p.OS+"/"+p.Arch), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	license = filepath.Join(bin, "LICENSE")
	if err := os.WriteFile(license, []byte("Apache License"), 0o644); err != nil {
		t.Fatal(err)
	}
	return bin, license
}

// TestPackIsReproducible: the same binaries and date give the same bytes,
// whenever and wherever they are packed.
func TestPackIsReproducible(t *testing.T) {
	bin, license := fakeBinaries(t)
	when := time.Date(2026, 12, 7, 13, 55, 18, 0, time.UTC)
	outs := []string{t.TempDir(), t.TempDir()}
	for i, out := range outs {
		if i == 1 {
			// Another mtime on the inputs changes nothing.
			later := time.Now().Add(time.Hour)
			_ = os.Chtimes(filepath.Join(bin, Platforms[0].BuiltAs()), later, later)
		}
		if err := pack("v1.37.2-checkpoint.1", bin, license, "https://example.invalid/releases", when, out); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(outs[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(Platforms)+2 {
		t.Errorf("%d files, want an archive per platform (%d), checkpoint.yaml and SHA256SUMS", len(entries), len(Platforms))
	}
	for _, e := range entries {
		a, _ := os.ReadFile(filepath.Join(outs[0], e.Name()))
		b, err := os.ReadFile(filepath.Join(outs[1], e.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two packs of the same inputs (%v)", e.Name(), err)
		}
	}
}

// TestPackManifest: the krew manifest names every archive, by its download
// address and sha256, with the binary krew links and LICENSE; SHA256SUMS
// lists every file but itself.
func TestPackManifest(t *testing.T) {
	bin, license := fakeBinaries(t)
	out := t.TempDir()
	if err := pack("v1.37.2-checkpoint.1", bin, license, "https://example.invalid/releases", time.Unix(0, 0), out); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "checkpoint.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var manifest plugin
	if err := yaml.UnmarshalStrict(raw, &manifest); err != nil {
		t.Fatal(err)
	}
	if manifest.Metadata.Name != "checkpoint" || manifest.Spec.Version != "v1.37.2-checkpoint.1" || len(manifest.Spec.Platforms) != len(Platforms) {
		t.Fatalf("manifest %s", raw)
	}
	sums, err := os.ReadFile(filepath.Join(out, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range Platforms {
		got := manifest.Spec.Platforms[i]
		archive, err := os.ReadFile(filepath.Join(out, p.Archive("v1.37.2-checkpoint.1")))
		if err != nil {
			t.Fatal(err)
		}
		if got.SHA256 != sha256Of(archive) || got.URI != "https://example.invalid/releases/v1.37.2-checkpoint.1/"+p.Archive("v1.37.2-checkpoint.1") ||
			got.Bin != p.Binary() || got.Selector.MatchLabels["os"] != p.OS || got.Selector.MatchLabels["arch"] != p.Arch {
			t.Errorf("platform %s/%s: %+v", p.OS, p.Arch, got)
		}
		if line := sha256Of(archive) + "  " + p.Archive("v1.37.2-checkpoint.1") + "\n"; !strings.Contains(string(sums), line) {
			t.Errorf("SHA256SUMS lacks %q:\n%s", line, sums)
		}
	}
	if strings.Contains(string(sums), "SHA256SUMS") || !strings.Contains(string(sums), "  checkpoint.yaml\n") {
		t.Errorf("SHA256SUMS should list checkpoint.yaml and not itself:\n%s", sums)
	}
}

// TestPackMissingBinary: a platform that was not built fails the pack,
// naming the file.
func TestPackMissingBinary(t *testing.T) {
	bin, license := fakeBinaries(t)
	missing := filepath.Join(bin, Platforms[3].BuiltAs())
	_ = os.Remove(missing)
	err := pack("v1.37.2-checkpoint.1", bin, license, "https://example.invalid", time.Unix(0, 0), t.TempDir())
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("pack without %s: %v, want an error naming it", missing, err)
	}
}
