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

// Package release checks what make release wrote as an operator gets it:
// every file against SHA256SUMS, every binary built for the platform its
// archive names (this machine runs only linux/amd64, so the others are read
// for their format and machine), the krew manifest through krew's own
// validation and an offline krew install of each archive, the installed
// plugin run, the image index's platforms, and one binary built again to the
// same bytes.
//
//	make test-release
//
// RELEASE_DIR is the release (_output/release), RELEASE_BUILD what it was
// built from (_output/release-build), KREW_BIN a directory holding krew and
// validate-krew-manifest built from sigs.k8s.io/krew v0.4.3, KUBECTL a kubectl.
package release

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// platforms are the plugin's, as make release builds them.
var platforms = []struct{ os, arch string }{
	{"linux", "amd64"}, {"linux", "arm64"},
	{"darwin", "amd64"}, {"darwin", "arm64"},
	{"windows", "amd64"}, {"windows", "arm64"},
}

func dirs(t *testing.T) (release, build, krew, version string) {
	t.Helper()
	release, build, krew = os.Getenv("RELEASE_DIR"), os.Getenv("RELEASE_BUILD"), os.Getenv("KREW_BIN")
	if release == "" || build == "" || krew == "" {
		t.Fatal("RELEASE_DIR, RELEASE_BUILD and KREW_BIN are required: run make test-release")
	}
	raw, err := os.ReadFile(filepath.Join(build, "version"))
	if err != nil {
		t.Fatal(err)
	}
	return release, build, krew, strings.TrimSpace(string(raw))
}

func archiveName(version, goos, arch string) string {
	if goos == "windows" {
		return fmt.Sprintf("kubectl-checkpoint_%s_%s_%s.zip", version, goos, arch)
	}
	return fmt.Sprintf("kubectl-checkpoint_%s_%s_%s.tar.gz", version, goos, arch)
}

// TestSHA256SUMS: every file of the release is listed with its sum, and
// nothing else is.
func TestSHA256SUMS(t *testing.T) {
	release, _, _, version := dirs(t)
	f, err := os.Open(filepath.Join(release, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	var listed []string
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		sum, name, ok := strings.Cut(scanner.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: %q is not \"<sha256>  <file>\"", scanner.Text())
		}
		content, err := os.ReadFile(filepath.Join(release, name))
		if err != nil {
			t.Errorf("SHA256SUMS lists %s: %v", name, err)
			continue
		}
		if got := sha256.Sum256(content); hex.EncodeToString(got[:]) != sum {
			t.Errorf("%s: sha256 %x, SHA256SUMS says %s", name, got, sum)
		}
		listed = append(listed, name)
	}
	want := []string{"checkpoint.yaml", "kube-apiserver_" + version + ".oci.tar", "rbac-team.yaml"}
	for _, p := range platforms {
		want = append(want, archiveName(version, p.os, p.arch))
	}
	slices.Sort(want)
	slices.Sort(listed)
	if !slices.Equal(listed, want) {
		t.Errorf("SHA256SUMS lists %v, want %v", listed, want)
	}
}

// TestPluginArchives: each archive holds the plugin built for its platform,
// executable, and LICENSE.
func TestPluginArchives(t *testing.T) {
	release, _, _, version := dirs(t)
	for _, p := range platforms {
		t.Run(p.os+"/"+p.arch, func(t *testing.T) {
			files := unpack(t, filepath.Join(release, archiveName(version, p.os, p.arch)))
			binary := "kubectl-checkpoint"
			if p.os == "windows" {
				binary += ".exe"
			}
			if names := slices.Sorted(mapKeys(files)); !slices.Equal(names, []string{"LICENSE", binary}) {
				t.Fatalf("archive holds %v, want LICENSE and %s", names, binary)
			}
			if !strings.Contains(string(files["LICENSE"].content), "Apache License") {
				t.Error("LICENSE is not the Apache License")
			}
			if files[binary].mode&0o111 == 0 {
				t.Errorf("%s has mode %o, want it executable", binary, files[binary].mode)
			}
			if got := platformOf(t, files[binary].content); got != p.os+"/"+p.arch {
				t.Errorf("%s is a binary for %s, want %s/%s", binary, got, p.os, p.arch)
			}
		})
	}
}

// TestKrewManifest: krew's own validation of the manifest (structure,
// platforms, overlapping selectors), then an offline "kubectl krew install"
// of every archive as krew would on each platform, and the installed
// linux/amd64 plugin runs as "kubectl checkpoint".
func TestKrewManifest(t *testing.T) {
	release, _, krew, version := dirs(t)
	kubectl := os.Getenv("KUBECTL")
	if kubectl == "" {
		t.Fatal("KUBECTL is required: run make test-release")
	}
	// kubectl finds krew as it finds any plugin: kubectl-krew on PATH.
	plugins := t.TempDir()
	if err := os.Symlink(filepath.Join(krew, "krew"), filepath.Join(plugins, "kubectl-krew")); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(release, "checkpoint.yaml")
	// -skip-install: its install step downloads each archive; the installs
	// below use the local archives instead.
	out, err := exec.Command(filepath.Join(krew, "validate-krew-manifest"), "-manifest", manifest, "-skip-install").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "no overlapping spec.platform[].selector") {
		t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
	}
	for _, p := range platforms {
		t.Run(p.os+"/"+p.arch, func(t *testing.T) {
			root := t.TempDir()
			path := "PATH=" + filepath.Join(root, "bin") + ":" + plugins + ":" + os.Getenv("PATH")
			cmd := exec.Command(kubectl, "krew", "install", "--manifest="+manifest, "--archive="+filepath.Join(release, archiveName(version, p.os, p.arch)))
			cmd.Env = []string{"KREW_ROOT=" + root, "KREW_OS=" + p.os, "KREW_ARCH=" + p.arch, "KREW_NO_UPGRADE_CHECK=1", "HOME=" + root, path}
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), `Installed plugin: checkpoint`) {
				t.Fatalf("krew install for %s/%s: %v\n%s", p.os, p.arch, err, out)
			}
			receipt, err := os.ReadFile(filepath.Join(root, "receipts", "checkpoint.yaml"))
			if err != nil || !strings.Contains(string(receipt), "version: "+version) {
				t.Errorf("krew's receipt: %v\n%s", err, receipt)
			}
			link := filepath.Join(root, "bin", "kubectl-checkpoint")
			if p.os == "windows" {
				link += ".exe"
			}
			if _, err := os.Stat(link); err != nil {
				t.Fatalf("krew put no kubectl-checkpoint on its PATH: %v", err)
			}
			if p.os != "linux" || p.arch != "amd64" {
				return
			}
			run := exec.Command(kubectl, "checkpoint", "--help")
			run.Env = []string{"HOME=" + root, path}
			help, err := run.CombinedOutput()
			if err != nil || !strings.Contains(string(help), "kubectl checkpoint deploy/mydeployment") {
				t.Errorf("the installed plugin's --help: %v\n%s", err, help)
			}
		})
	}
}

// TestImage: one image index for linux/amd64 and linux/arm64, each running
// kube-apiserver built for it from PATH, as a kubeadm static pod names it.
func TestImage(t *testing.T) {
	release, build, _, version := dirs(t)
	raw, err := os.ReadFile(filepath.Join(build, "image"))
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSpace(string(raw))
	if !strings.HasSuffix(name, "/kube-apiserver:"+version) {
		t.Errorf("image %s, want .../kube-apiserver:%s", name, version)
	}
	blobs := map[string][]byte{}
	f, err := os.Open(filepath.Join(release, "kube-apiserver_"+version+".oci.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if blobs[hdr.Name], err = io.ReadAll(tr); err != nil {
			t.Fatal(err)
		}
	}
	blob := func(d imagespec.Descriptor, into any) {
		t.Helper()
		if err := json.Unmarshal(blobs["blobs/sha256/"+d.Digest.Encoded()], into); err != nil {
			t.Fatalf("%s: %v", d.Digest, err)
		}
	}
	var top, index imagespec.Index
	if err := json.Unmarshal(blobs["index.json"], &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != imagespec.MediaTypeImageIndex || top.Manifests[0].Annotations["io.containerd.image.name"] != name {
		t.Fatalf("index.json %s: want one image index named %s", blobs["index.json"], name)
	}
	blob(top.Manifests[0], &index)
	var got []string
	for _, d := range index.Manifests {
		var manifest imagespec.Manifest
		var config imagespec.Image
		blob(d, &manifest)
		blob(manifest.Config, &config)
		platform := config.OS + "/" + config.Architecture
		got = append(got, platform)
		if !slices.Equal(config.Config.Entrypoint, []string{"/usr/local/bin/kube-apiserver"}) || !slices.Contains(config.Config.Env, "PATH=/usr/local/bin:/usr/bin:/bin") {
			t.Errorf("%s: entrypoint %v, env %v", platform, config.Config.Entrypoint, config.Config.Env)
		}
		layer := manifest.Layers[len(manifest.Layers)-1]
		gz, err := gzip.NewReader(bytes.NewReader(blobs["blobs/sha256/"+layer.Digest.Encoded()]))
		if err != nil {
			t.Fatal(err)
		}
		files := readTar(t, gz)
		binary, ok := files["usr/local/bin/kube-apiserver"]
		if !ok {
			t.Fatalf("%s: no usr/local/bin/kube-apiserver in %v", platform, slices.Sorted(mapKeys(files)))
		}
		if p := platformOf(t, binary.content); p != platform {
			t.Errorf("%s: kube-apiserver is built for %s", platform, p)
		}
		if platform == "linux/amd64" {
			bin := filepath.Join(t.TempDir(), "kube-apiserver")
			if err := os.WriteFile(bin, binary.content, 0o755); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "--version").CombinedOutput()
			if want := "Kubernetes " + strings.Replace(version, "-checkpoint.", "+checkpoint.", 1); err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("kube-apiserver --version: %q, %v; want %q", out, err, want)
			}
		}
	}
	if !slices.Equal(got, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v, want linux/amd64 and linux/arm64", got)
	}
}

// TestReproducible: the linux/arm64 plugin built again with the flags
// make release used is the same bytes as the one in its archive.
func TestReproducible(t *testing.T) {
	release, build, _, version := dirs(t)
	flags, err := os.ReadFile(filepath.Join(build, "ldflags"))
	if err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "kubectl-checkpoint")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", strings.TrimSpace(string(flags)), "-o", again, "github.com/kube-checkpoint/kubectl/cmd/kubectl-checkpoint")
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rebuilt, err := os.ReadFile(again)
	if err != nil {
		t.Fatal(err)
	}
	released := unpack(t, filepath.Join(release, archiveName(version, "linux", "arm64")))["kubectl-checkpoint"].content
	if !bytes.Equal(rebuilt, released) {
		t.Errorf("kubectl-checkpoint for linux/arm64 built again is %d bytes (sha256 %x), the released one %d (%x)",
			len(rebuilt), sha256.Sum256(rebuilt), len(released), sha256.Sum256(released))
	}
}

type file struct {
	content []byte
	mode    int64
}

func unpack(t *testing.T, archive string) map[string]file {
	t.Helper()
	if strings.HasSuffix(archive, ".zip") {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close() //nolint:errcheck
		files := map[string]file{}
		for _, f := range zr.File {
			r, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			content, err := io.ReadAll(r)
			_ = r.Close()
			if err != nil {
				t.Fatal(err)
			}
			files[f.Name] = file{content, int64(f.Mode().Perm())}
		}
		return files
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() //nolint:errcheck
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return readTar(t, gz)
}

func readTar(t *testing.T, r io.Reader) map[string]file {
	t.Helper()
	files := map[string]file{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files[hdr.Name] = file{content, hdr.Mode}
	}
}

func mapKeys(m map[string]file) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// platformOf reads a binary's format and machine: linux (ELF), darwin
// (Mach-O) or windows (PE), on amd64 or arm64.
func platformOf(t *testing.T, binary []byte) string {
	t.Helper()
	r := bytes.NewReader(binary)
	if f, err := elf.NewFile(r); err == nil {
		switch f.Machine {
		case elf.EM_X86_64:
			return "linux/amd64"
		case elf.EM_AARCH64:
			return "linux/arm64"
		}
		return "linux/" + f.Machine.String()
	}
	if f, err := macho.NewFile(r); err == nil {
		switch f.Cpu {
		case macho.CpuAmd64:
			return "darwin/amd64"
		case macho.CpuArm64:
			return "darwin/arm64"
		}
		return "darwin/" + f.Cpu.String()
	}
	if f, err := pe.NewFile(r); err == nil {
		switch f.Machine {
		case pe.IMAGE_FILE_MACHINE_AMD64:
			return "windows/amd64"
		case pe.IMAGE_FILE_MACHINE_ARM64:
			return "windows/arm64"
		}
		return fmt.Sprintf("windows/machine 0x%x", f.Machine)
	}
	return "unknown"
}
