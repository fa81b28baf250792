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

// release packs what make release built into what an operator downloads:
// one archive of kubectl-checkpoint per platform (.tar.gz, .zip for
// windows) with LICENSE, the krew manifest naming each with its sha256, and
// SHA256SUMS over every file of the release. The same inputs give the same
// bytes: entries are sorted, owned by root, dated at the commit's time.
//
//	release -version v1.37.2-checkpoint.1 -bin _output/release/bin -license LICENSE \
//	  -date 2026-12-07T13:55:18Z -out _output/release
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Platforms are the os/arch pairs kubectl-checkpoint is released for.
var Platforms = []Platform{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

// Platform is one os/arch of the plugin.
type Platform struct{ OS, Arch string }

// Binary is the plugin's file name on p.
func (p Platform) Binary() string {
	if p.OS == "windows" {
		return "kubectl-checkpoint.exe"
	}
	return "kubectl-checkpoint"
}

// Archive is the name of p's archive of version.
func (p Platform) Archive(version string) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return fmt.Sprintf("kubectl-checkpoint_%s_%s_%s%s", version, p.OS, p.Arch, ext)
}

// BuiltAs is the file make release builds p's binary to, in its bin
// directory.
func (p Platform) BuiltAs() string {
	return fmt.Sprintf("kubectl-checkpoint-%s-%s", p.OS, p.Arch)
}

func main() {
	version := flag.String("version", "", "the release, e.g. v1.37.2-checkpoint.1")
	bin := flag.String("bin", "", "directory holding kubectl-checkpoint-<os>-<arch> for every platform")
	license := flag.String("license", "LICENSE", "license file put in every archive")
	date := flag.String("date", "", "time of the release's commit (RFC 3339): the time of every archive entry")
	downloads := flag.String("download-url", "https://github.com/kube-checkpoint/kubernetes/releases/download", "where the release's files are published: the krew manifest points at <download-url>/<version>/<archive>")
	out := flag.String("out", "", "directory to write the archives, checkpoint.yaml and SHA256SUMS into")
	list := flag.Bool("platforms", false, "print the plugin's platforms, os/arch one per line, and exit (what make release builds)")
	flag.Parse()
	if *list {
		for _, p := range Platforms {
			fmt.Println(p.OS + "/" + p.Arch)
		}
		return
	}
	if *version == "" || *bin == "" || *date == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	when, err := time.Parse(time.RFC3339, *date)
	if err != nil {
		log.Fatalf("-date: %v", err)
	}
	if err := pack(*version, *bin, *license, *downloads, when, *out); err != nil {
		log.Fatal(err)
	}
}

func pack(version, bin, license, downloads string, when time.Time, out string) error {
	licenseText, err := os.ReadFile(license)
	if err != nil {
		return err
	}
	var platforms []krewPlatform
	for _, p := range Platforms {
		binary, err := os.ReadFile(filepath.Join(bin, p.BuiltAs()))
		if err != nil {
			return err
		}
		files := []archived{{p.Binary(), binary, 0o755}, {"LICENSE", licenseText, 0o644}}
		var archive []byte
		if p.OS == "windows" {
			archive, err = zipOf(files, when)
		} else {
			archive, err = tarGzOf(files, when)
		}
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(out, p.Archive(version)), archive, 0o644); err != nil {
			return err
		}
		platforms = append(platforms, krewPlatform{
			Selector: selector{MatchLabels: map[string]string{"os": p.OS, "arch": p.Arch}},
			URI:      downloads + "/" + version + "/" + p.Archive(version),
			SHA256:   sha256Of(archive),
			Bin:      p.Binary(),
			Files:    []fileOperation{{From: p.Binary(), To: "."}, {From: "LICENSE", To: "."}},
		})
	}
	manifest, err := yaml.Marshal(krewManifest(version, platforms))
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "checkpoint.yaml"), manifest, 0o644); err != nil {
		return err
	}
	sums, err := sha256Sums(out)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(out, "SHA256SUMS"), sums, 0o644)
}

// archived is one file of an archive.
type archived struct {
	name    string
	content []byte
	mode    int64
}

func tarGzOf(files []archived, when time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.content)), ModTime: when, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func zipOf(files []archived, when time.Time) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: when.UTC()}
		hdr.SetMode(fs.FileMode(f.mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.content); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sha256Of(content []byte) string {
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

// sha256Sums is "sha256sum -c"'s input for every file of dir but itself,
// sorted by name.
func sha256Sums(dir string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, e := range entries {
		if !e.Type().IsRegular() || e.Name() == "SHA256SUMS" {
			continue
		}
		content, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		lines = append(lines, sha256Of(content)+"  "+e.Name())
	}
	slices.SortFunc(lines, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// The krew plugin manifest, krew.googlecontainertools.github.com/v1alpha2
// Plugin, as krew's index documents it.
type plugin struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   metadata   `json:"metadata"`
	Spec       pluginSpec `json:"spec"`
}

type metadata struct {
	Name string `json:"name"`
}

type pluginSpec struct {
	Version          string         `json:"version"`
	Homepage         string         `json:"homepage"`
	ShortDescription string         `json:"shortDescription"`
	Description      string         `json:"description"`
	Caveats          string         `json:"caveats"`
	Platforms        []krewPlatform `json:"platforms"`
}

type krewPlatform struct {
	Selector selector        `json:"selector"`
	URI      string          `json:"uri"`
	SHA256   string          `json:"sha256"`
	Bin      string          `json:"bin"`
	Files    []fileOperation `json:"files"`
}

type selector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

type fileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func krewManifest(version string, platforms []krewPlatform) plugin {
	return plugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2",
		Kind:       "Plugin",
		Metadata:   metadata{Name: "checkpoint"},
		Spec: pluginSpec{
			Version:          version,
			Homepage:         "https://github.com/kube-checkpoint/kubernetes",
			ShortDescription: "Checkpoint running containers through the API server",
			Description: `Checkpoints the containers of pods with CRIU through the pods/checkpoint
subresource of kube-apiserver, so that no one needs to reach a kubelet or hold
nodes/proxy. The archive stays on the pod's node; the command prints where.

  kubectl checkpoint my-pod -c app
  kubectl checkpoint deployment/web --all-containers
  kubectl checkpoint -l app=jupyter -o json
`,
			Caveats: `The cluster's kube-apiserver must serve pods/checkpoint: kube-checkpoint's
kube-apiserver with --feature-gates=ContainerCheckpointAPI=true, and nodes
whose runtime can checkpoint (see docs/install.md). You need "create" on
pods/checkpoint, which the ClusterRole system:pod-checkpointer grants.
`,
			Platforms: platforms,
		},
	}
}
