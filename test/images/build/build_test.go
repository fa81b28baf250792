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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// readTar returns the files of a tarball by name.
func readTar(t *testing.T, r io.Reader) (map[string][]byte, map[string]*tar.Header) {
	t.Helper()
	files, headers := map[string][]byte{}, map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files, headers
		}
		if err != nil {
			t.Fatal(err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name], headers[hdr.Name] = content, hdr
	}
}

func TestWriteSeveralImages(t *testing.T) {
	dir := t.TempDir()
	binary := filepath.Join(dir, "etcd")
	if err := os.WriteFile(binary, []byte("#!etcd"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A root file system layer, as debootstrap's tar.
	var rootfs bytes.Buffer
	tw := tar.NewWriter(&rootfs)
	for _, hdr := range []*tar.Header{{Name: "./bin/", Typeflag: tar.TypeDir, Mode: 0o755}, {Name: "./bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: 2}} {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	_, _ = tw.Write([]byte("bb"))
	_ = tw.Close()
	layer := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(layer, rootfs.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	images := []Spec{
		{Names: []string{"registry.k8s.io/etcd:3.7.0-0"}, Files: map[string]string{"/usr/local/bin/etcd": binary}, Env: []string{"PATH=/usr/local/bin"}},
		{Names: []string{"registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10.2"}, Layers: []string{layer}, Links: map[string]string{"/bin/sh": "busybox"}, Entrypoint: []string{"/bin/sh"}},
	}
	out := filepath.Join(dir, "images.tar")
	if err := write(images, out); err != nil {
		t.Fatal(err)
	}

	// kind's node-image build reads the tags from the repositories file.
	tags, err := archiveTags(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"registry.k8s.io/etcd:3.7.0-0", "registry.k8s.io/pause:3.10", "registry.k8s.io/pause:3.10.2"}; !reflect.DeepEqual(tags, want) {
		t.Errorf("tags %v, want %v", tags, want)
	}

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	files, _ := readTar(t, f)
	// ctr images import reads the OCI index: one entry per name.
	var index imagespec.Index
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range index.Manifests {
		names = append(names, m.Annotations["io.containerd.image.name"])
	}
	if !reflect.DeepEqual(names, tags) {
		t.Errorf("index.json names %v, want %v", names, tags)
	}
	// docker load reads manifest.json: one entry per image, its layers bottom up.
	var saved []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &saved); err != nil {
		t.Fatal(err)
	}
	if len(saved) != 2 || len(saved[0].Layers) != 1 || len(saved[1].Layers) != 2 {
		t.Fatalf("manifest.json %s: want etcd with one layer, pause with the root file system and its link", files["manifest.json"])
	}
	for i, want := range []map[string]string{
		{"usr/": "dir", "usr/local/": "dir", "usr/local/bin/": "dir", "usr/local/bin/etcd": "#!etcd"},
		{"bin/": "dir", "bin/sh": "-> busybox"},
	} {
		top := saved[i].Layers[len(saved[i].Layers)-1]
		gz, err := gzip.NewReader(bytes.NewReader(files[top]))
		if err != nil {
			t.Fatal(err)
		}
		content, headers := readTar(t, gz)
		got := map[string]string{}
		for name, hdr := range headers {
			switch hdr.Typeflag {
			case tar.TypeDir:
				got[name] = "dir"
			case tar.TypeSymlink:
				got[name] = "-> " + hdr.Linkname
			default:
				got[name] = string(content[name])
				if hdr.Mode != 0o755 {
					t.Errorf("%s: mode %o, want 0755", name, hdr.Mode)
				}
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("image %d's own layer %v, want %v", i, got, want)
		}
	}
	var config imagespec.Image
	if err := json.Unmarshal(files[saved[0].Config], &config); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(config.Config.Env, []string{"PATH=/usr/local/bin"}) || len(config.RootFS.DiffIDs) != 1 {
		t.Errorf("etcd's config %+v", config)
	}
}

func TestWriteRejectsNamelessImage(t *testing.T) {
	if err := write([]Spec{{Files: map[string]string{"/x": "/dev/null"}}}, filepath.Join(t.TempDir(), "x.tar")); err == nil {
		t.Error("an image without a name was written")
	}
}

// TestWriteMultiPlatform: the same names for two architectures are one image,
// an index of one manifest per platform, which ctr imports for either; the
// "docker save" part holds this machine's; the same inputs give the same
// bytes; and one architecture twice is refused.
func TestWriteMultiPlatform(t *testing.T) {
	dir := t.TempDir()
	images := []Spec{}
	for _, arch := range []string{"amd64", "arm64"} {
		binary := filepath.Join(dir, "kube-apiserver-"+arch)
		if err := os.WriteFile(binary, []byte("ELF "+arch), 0o755); err != nil {
			t.Fatal(err)
		}
		images = append(images, Spec{Names: []string{"kube-checkpoint.local/kube-apiserver:v1.37.2-checkpoint.1"}, Arch: arch,
			Files: map[string]string{"/usr/local/bin/kube-apiserver": binary}, Entrypoint: []string{"/usr/local/bin/kube-apiserver"}})
	}
	out, again := filepath.Join(dir, "a.tar"), filepath.Join(dir, "b.tar")
	for _, file := range []string{out, again} {
		if err := write(images, file); err != nil {
			t.Fatal(err)
		}
	}
	first, _ := os.ReadFile(out)
	second, _ := os.ReadFile(again)
	if !bytes.Equal(first, second) {
		t.Error("the same images written twice differ")
	}
	files, _ := readTar(t, bytes.NewReader(first))
	var top imagespec.Index
	if err := json.Unmarshal(files["index.json"], &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != imagespec.MediaTypeImageIndex {
		t.Fatalf("index.json %s: want one entry, an image index", files["index.json"])
	}
	var platforms imagespec.Index
	if err := json.Unmarshal(files["blobs/sha256/"+top.Manifests[0].Digest.Encoded()], &platforms); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range platforms.Manifests {
		var manifest imagespec.Manifest
		var config imagespec.Image
		if err := json.Unmarshal(files["blobs/sha256/"+m.Digest.Encoded()], &manifest); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(files["blobs/sha256/"+manifest.Config.Digest.Encoded()], &config); err != nil {
			t.Fatal(err)
		}
		if m.Platform == nil || m.Platform.Architecture != config.Architecture || config.OS != "linux" {
			t.Errorf("manifest %s for %+v has a config for %s/%s", m.Digest, m.Platform, config.OS, config.Architecture)
		}
		got = append(got, config.Architecture)
	}
	if !reflect.DeepEqual(got, []string{"amd64", "arm64"}) {
		t.Errorf("platforms %v, want [amd64 arm64]", got)
	}
	var saved []dockerManifest
	if err := json.Unmarshal(files["manifest.json"], &saved); err != nil || len(saved) != 1 {
		t.Fatalf("manifest.json %s: want one image", files["manifest.json"])
	}
	var config imagespec.Image
	if err := json.Unmarshal(files[saved[0].Config], &config); err != nil || config.Architecture != runtime.GOARCH {
		t.Errorf("docker load would get linux/%s, want this machine's linux/%s", config.Architecture, runtime.GOARCH)
	}

	twice := append(images, images[1])
	if err := write(twice, filepath.Join(dir, "c.tar")); err == nil || !strings.Contains(err.Error(), "linux/arm64") {
		t.Errorf("one architecture twice: %v, want an error naming linux/arm64", err)
	}
}
