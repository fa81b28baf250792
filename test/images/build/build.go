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

// build writes image tarballs without a registry or a daemon: the local
// cluster and the kind node image reach no registry, so every image they run
// is built here from binaries this project built.
//
// One image holding one static binary:
//
//	build -binary _output/images/counter -entrypoint /counter -name kube-checkpoint.local/counter:v1 -out counter.tar
//
// Several images into one tarball, described by a JSON list of Spec:
//
//	build -spec images.json -out images.tar
//
// Specs with the same names and different "arch" are one multi-platform image
// (an OCI image index of one manifest per linux/<arch>), as make release
// writes kube-apiserver for amd64 and arm64.
//
// The tarball is both an OCI image layout (index.json, read by "ctr images
// import") and a "docker save" archive (manifest.json, read by "docker load",
// and the older repositories file, from which kind's node-image build takes
// every tag of the archive as built; it reads only the first image of
// manifest.json).
//
// The tags of a tarball, one per line, from its repositories file:
//
//	build -tags images.tar
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	_ "crypto/sha256" // digest.FromBytes hashes with it
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Spec describes one image: its layers bottom to top are each of Layers (tar
// files, gzip-compressed or not, e.g. a root file system), then one layer
// holding Files and Links.
type Spec struct {
	// Names are the image's references, e.g. registry.k8s.io/etcd:3.7.0-0.
	Names []string `json:"names"`
	// Layers are tarballs put in the image as they are, below Files.
	Layers []string `json:"layers,omitempty"`
	// Files maps a path in the image to the file on this machine copied there
	// (mode 0755: they are binaries).
	Files map[string]string `json:"files,omitempty"`
	// Links maps a path in the image to the target of a symbolic link there.
	Links      map[string]string `json:"links,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	Env        []string          `json:"env,omitempty"`
	User       string            `json:"user,omitempty"`
	// Arch is the architecture its binaries are built for (linux/Arch);
	// this machine's when empty. Specs with the same Names and different
	// Arch are one multi-platform image: an index of one manifest each.
	Arch string `json:"arch,omitempty"`
}

func main() {
	binary := flag.String("binary", "", "static binary to put in the image")
	entrypoint := flag.String("entrypoint", "", "path of the binary in the image, and the image's entrypoint")
	name := flag.String("name", "", "image reference, e.g. kube-checkpoint.local/counter:v1")
	specFile := flag.String("spec", "", "JSON list of images to write into one tarball, instead of -binary/-entrypoint/-name")
	out := flag.String("out", "", "image tarball to write")
	tagsOf := flag.String("tags", "", "print the tags of this tarball and exit")
	flag.Parse()
	if *tagsOf != "" {
		tags, err := archiveTags(*tagsOf)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(strings.Join(tags, "\n"))
		return
	}
	var images []Spec
	switch {
	case *out == "":
		flag.Usage()
		os.Exit(2)
	case *specFile != "":
		content, err := os.ReadFile(*specFile)
		if err != nil {
			log.Fatal(err)
		}
		if err := json.Unmarshal(content, &images); err != nil {
			log.Fatalf("%s: %v", *specFile, err)
		}
	case *binary != "" && *entrypoint != "" && *name != "":
		images = []Spec{{Names: []string{*name}, Files: map[string]string{*entrypoint: *binary}, Entrypoint: []string{*entrypoint}}}
	default:
		flag.Usage()
		os.Exit(2)
	}
	if err := write(images, *out); err != nil {
		log.Fatal(err)
	}
}

// epoch keeps the images reproducible: the same inputs give the same digests.
var epoch = time.Unix(0, 0)

// blobs are the content-addressed files of the tarball, each written once.
type blobs struct {
	names   []string
	content map[string][]byte
}

func (b *blobs) add(content []byte) string {
	name := blob(content)
	if _, ok := b.content[name]; !ok {
		b.names = append(b.names, name)
		b.content[name] = content
	}
	return name
}

// dockerManifest is one entry of a "docker save" archive's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

func write(images []Spec, out string) error {
	b := &blobs{content: map[string][]byte{}}
	var descriptors []imagespec.Descriptor
	var saved []dockerManifest
	repositories := map[string]map[string]string{}
	// A layer file of several images (a root file system) is compressed once.
	type compressedLayer struct {
		descriptor imagespec.Descriptor
		diffID     digest.Digest
		blob       string
	}
	layerFiles := map[string]compressedLayer{}
	// The images by their names, in the order given: one platform each.
	type platformImage struct {
		manifest imagespec.Descriptor
		saved    dockerManifest
	}
	var order []string
	byNames := map[string][]platformImage{}
	for _, spec := range images {
		if len(spec.Names) == 0 {
			return fmt.Errorf("an image without names: %+v", spec)
		}
		var layers []imagespec.Descriptor
		var diffIDs []digest.Digest
		var layerBlobs []string
		addLayer := func(uncompressed []byte) error {
			var compressed bytes.Buffer
			gz := gzip.NewWriter(&compressed)
			if _, err := gz.Write(uncompressed); err != nil {
				return err
			}
			if err := gz.Close(); err != nil {
				return err
			}
			layers = append(layers, descriptor(imagespec.MediaTypeImageLayerGzip, compressed.Bytes()))
			diffIDs = append(diffIDs, digest.FromBytes(uncompressed))
			layerBlobs = append(layerBlobs, b.add(compressed.Bytes()))
			return nil
		}
		for _, file := range spec.Layers {
			if l, ok := layerFiles[file]; ok {
				layers, diffIDs, layerBlobs = append(layers, l.descriptor), append(diffIDs, l.diffID), append(layerBlobs, l.blob)
				continue
			}
			uncompressed, err := readLayer(file)
			if err != nil {
				return err
			}
			if err := addLayer(uncompressed); err != nil {
				return err
			}
			layerFiles[file] = compressedLayer{layers[len(layers)-1], diffIDs[len(diffIDs)-1], layerBlobs[len(layerBlobs)-1]}
		}
		if len(spec.Files)+len(spec.Links) > 0 {
			top, err := fileLayer(spec.Files, spec.Links)
			if err != nil {
				return err
			}
			if err := addLayer(top); err != nil {
				return err
			}
		}
		platform := imagespec.Platform{Architecture: spec.Arch, OS: "linux"}
		if platform.Architecture == "" {
			platform.Architecture = runtime.GOARCH
		}
		config, err := json.Marshal(imagespec.Image{
			Platform: platform,
			Config:   imagespec.ImageConfig{Entrypoint: spec.Entrypoint, Cmd: spec.Cmd, Env: spec.Env, User: spec.User, WorkingDir: "/"},
			RootFS:   imagespec.RootFS{Type: "layers", DiffIDs: diffIDs},
		})
		if err != nil {
			return err
		}
		manifest, err := json.Marshal(imagespec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: imagespec.MediaTypeImageManifest,
			Config:    descriptor(imagespec.MediaTypeImageConfig, config),
			Layers:    layers,
		})
		if err != nil {
			return err
		}
		configBlob := b.add(config)
		b.add(manifest)
		key := strings.Join(spec.Names, "\n")
		if _, ok := byNames[key]; !ok {
			order = append(order, key)
		}
		for _, other := range byNames[key] {
			if other.manifest.Platform.Architecture == platform.Architecture {
				return fmt.Errorf("two images %v for linux/%s", spec.Names, platform.Architecture)
			}
		}
		d := descriptor(imagespec.MediaTypeImageManifest, manifest)
		d.Platform = &platform
		byNames[key] = append(byNames[key], platformImage{d, dockerManifest{Config: configBlob, RepoTags: spec.Names, Layers: layerBlobs}})
	}
	for _, key := range order {
		platforms := byNames[key]
		names := strings.Split(key, "\n")
		// One platform is its manifest; several, an index of theirs.
		top := platforms[0].manifest
		top.Platform = nil
		if len(platforms) > 1 {
			var manifests []imagespec.Descriptor
			for _, p := range platforms {
				manifests = append(manifests, p.manifest)
			}
			index, err := json.Marshal(imagespec.Index{
				Versioned: specs.Versioned{SchemaVersion: 2},
				MediaType: imagespec.MediaTypeImageIndex,
				Manifests: manifests,
			})
			if err != nil {
				return err
			}
			b.add(index)
			top = descriptor(imagespec.MediaTypeImageIndex, index)
		}
		for _, name := range names {
			d := top
			d.Annotations = map[string]string{
				"io.containerd.image.name":  name,
				imagespec.AnnotationRefName: name[strings.LastIndex(name, ":")+1:],
			}
			descriptors = append(descriptors, d)
		}
		// A "docker save" archive holds one platform of an image: this
		// machine's, or the first.
		docker := platforms[0]
		for _, p := range platforms {
			if p.manifest.Platform.Architecture == runtime.GOARCH {
				docker = p
			}
		}
		saved = append(saved, docker.saved)
		for _, name := range names {
			i := strings.LastIndex(name, ":")
			if repositories[name[:i]] == nil {
				repositories[name[:i]] = map[string]string{}
			}
			repositories[name[:i]][name[i+1:]] = path.Base(docker.saved.Config) // the config's digest
		}
	}
	index, err := json.Marshal(imagespec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imagespec.MediaTypeImageIndex,
		Manifests: descriptors,
	})
	if err != nil {
		return err
	}
	layout, err := json.Marshal(imagespec.ImageLayout{Version: imagespec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	dockerSave, err := json.Marshal(saved)
	if err != nil {
		return err
	}
	repositoriesFile, err := json.Marshal(repositories)
	if err != nil {
		return err
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck
	ow := tar.NewWriter(f)
	for _, dir := range []string{imagespec.ImageBlobsDir, imagespec.ImageBlobsDir + "/sha256"} {
		if err := ow.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
	}
	files := []struct {
		name    string
		content []byte
	}{
		{imagespec.ImageLayoutFile, layout},
		{imagespec.ImageIndexFile, index},
		{"repositories", repositoriesFile},
		{"manifest.json", dockerSave},
	}
	for _, name := range b.names {
		files = append(files, struct {
			name    string
			content []byte
		}{name, b.content[name]})
	}
	for _, file := range files {
		if err := ow.WriteHeader(&tar.Header{Name: file.name, Mode: 0o644, Size: int64(len(file.content)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := ow.Write(file.content); err != nil {
			return err
		}
	}
	if err := ow.Close(); err != nil {
		return err
	}
	return f.Close()
}

// archiveTags reads the repositories file of a tarball this program wrote.
func archiveTags(file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil, fmt.Errorf("%s has no repositories file", file)
		}
		if err != nil {
			return nil, err
		}
		if hdr.Name != "repositories" {
			continue
		}
		var repositories map[string]map[string]string
		if err := json.NewDecoder(tr).Decode(&repositories); err != nil {
			return nil, fmt.Errorf("%s: repositories: %w", file, err)
		}
		var tags []string
		for repo, byTag := range repositories {
			for tag := range byTag {
				tags = append(tags, repo+":"+tag)
			}
		}
		sort.Strings(tags)
		return tags, nil
	}
}

// readLayer returns a layer tarball uncompressed.
func readLayer(file string) ([]byte, error) {
	content, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	if len(content) < 2 || content[0] != 0x1f || content[1] != 0x8b {
		return content, nil
	}
	gz, err := gzip.NewReader(bytes.NewReader(content))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return io.ReadAll(gz)
}

// fileLayer is a tar of files and links, with the directories above them.
func fileLayer(files, links map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	mkdirs := func(name string) error {
		var parents []string
		for dir := path.Dir(name); dir != "." && dir != "/" && !dirs[dir]; dir = path.Dir(dir) {
			parents = append(parents, dir)
		}
		for i := len(parents) - 1; i >= 0; i-- {
			dirs[parents[i]] = true
			if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(parents[i], "/") + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, name := range sortedKeys(files) {
		content, err := os.ReadFile(files[name])
		if err != nil {
			return nil, err
		}
		if err := mkdirs(name); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(name, "/"), Mode: 0o755, Size: int64(len(content)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(content); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(links) {
		if err := mkdirs(name); err != nil {
			return nil, err
		}
		if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(name, "/"), Linkname: links[name], Mode: 0o777, ModTime: epoch, Typeflag: tar.TypeSymlink}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func descriptor(mediaType string, content []byte) imagespec.Descriptor {
	return imagespec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(content), Size: int64(len(content))}
}

func blob(content []byte) string {
	d := digest.FromBytes(content)
	return path.Join(imagespec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}
