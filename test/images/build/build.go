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

// build writes a one-layer OCI image layout tarball holding one static
// binary, for "ctr images import": the local cluster reaches no registry, so
// its images are built from test/images here.
//
//	build -binary _output/images/counter -entrypoint /counter -name kube-checkpoint.local/counter:v1 -out counter.tar
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	_ "crypto/sha256" // digest.FromBytes hashes with it
	"encoding/json"
	"flag"
	"log"
	"os"
	"path"
	"runtime"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	imagespec "github.com/opencontainers/image-spec/specs-go/v1"
)

func main() {
	binary := flag.String("binary", "", "static binary to put in the image")
	entrypoint := flag.String("entrypoint", "", "path of the binary in the image, and the image's entrypoint")
	name := flag.String("name", "", "image reference, e.g. kube-checkpoint.local/counter:v1")
	out := flag.String("out", "", "OCI layout tarball to write")
	flag.Parse()
	if *binary == "" || *entrypoint == "" || *name == "" || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := build(*binary, *entrypoint, *name, *out); err != nil {
		log.Fatal(err)
	}
}

// epoch keeps the image reproducible: the same binary gives the same digest.
var epoch = time.Unix(0, 0)

func build(binary, entrypoint, name, out string) error {
	content, err := os.ReadFile(binary)
	if err != nil {
		return err
	}
	var layerTar bytes.Buffer
	tw := tar.NewWriter(&layerTar)
	if err := tw.WriteHeader(&tar.Header{Name: strings.TrimPrefix(entrypoint, "/"), Mode: 0o755, Size: int64(len(content)), ModTime: epoch, Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(content); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	var layer bytes.Buffer
	gz := gzip.NewWriter(&layer)
	if _, err := gz.Write(layerTar.Bytes()); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}

	config, err := json.Marshal(imagespec.Image{
		Platform: imagespec.Platform{Architecture: runtime.GOARCH, OS: "linux"},
		Config:   imagespec.ImageConfig{Entrypoint: []string{entrypoint}, WorkingDir: "/"},
		RootFS:   imagespec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(layerTar.Bytes())}},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(imagespec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imagespec.MediaTypeImageManifest,
		Config:    descriptor(imagespec.MediaTypeImageConfig, config),
		Layers:    []imagespec.Descriptor{descriptor(imagespec.MediaTypeImageLayerGzip, layer.Bytes())},
	})
	if err != nil {
		return err
	}
	manifestDescriptor := descriptor(imagespec.MediaTypeImageManifest, manifest)
	manifestDescriptor.Annotations = map[string]string{
		"io.containerd.image.name":  name,
		imagespec.AnnotationRefName: name[strings.LastIndex(name, ":")+1:],
	}
	index, err := json.Marshal(imagespec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: imagespec.MediaTypeImageIndex,
		Manifests: []imagespec.Descriptor{manifestDescriptor},
	})
	if err != nil {
		return err
	}
	layout, err := json.Marshal(imagespec.ImageLayout{Version: imagespec.ImageLayoutVersion})
	if err != nil {
		return err
	}

	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck
	ow := tar.NewWriter(f)
	files := []struct {
		name    string
		content []byte
	}{
		{imagespec.ImageLayoutFile, layout},
		{imagespec.ImageIndexFile, index},
		{blob(config), config},
		{blob(manifest), manifest},
		{blob(layer.Bytes()), layer.Bytes()},
	}
	for _, file := range []string{imagespec.ImageBlobsDir, imagespec.ImageBlobsDir + "/sha256"} {
		if err := ow.WriteHeader(&tar.Header{Name: file + "/", Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir}); err != nil {
			return err
		}
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

func descriptor(mediaType string, content []byte) imagespec.Descriptor {
	return imagespec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(content), Size: int64(len(content))}
}

func blob(content []byte) string {
	d := digest.FromBytes(content)
	return path.Join(imagespec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}
