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
	"bytes"
	"net/http"
	"testing"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/client-go/kubernetes/scheme"
	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
)

// postCheckpoint POSTs to pods/checkpoint as a plain client would, with the
// admin's credentials and the given Accept header.
func postCheckpoint(t *testing.T, server *framework.APIServer, ns, pod, query, accept string) (*http.Response, []byte) {
	t.Helper()
	return send(t, server, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods/"+pod+"/checkpoint?"+query, accept)
}

// TestCheckpointEncodings: a client asking for JSON, YAML, protobuf or CBOR
// gets the whole result, the same in each; an encoding the server cannot
// write is refused before the kubelet is asked.
func TestCheckpointEncodings(t *testing.T) {
	// CBOR is served only with its gate: a second apiserver on the same
	// storage serves it (the main one compares its OpenAPI with upstream's).
	cborServer, err := cluster.StartAPIServer("apiserver-cbor", framework.APIServerOptions{
		Binary:     "kube-apiserver",
		EtcdPrefix: "/gate-on",
		ExtraArgs:  []string{"--feature-gates=ContainerCheckpointAPI=true,CBORServingAndStorage=true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cborServer.Stop()
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	kubelet.SetHandler(kubeletArchive)
	codecs := serializer.NewCodecFactory(scheme.Scheme, serializer.WithSerializer(cbor.NewSerializerInfo))

	var first *checkpointv1.PodCheckpointResult
	for _, mediaType := range []string{runtime.ContentTypeJSON, runtime.ContentTypeYAML, runtime.ContentTypeProtobuf, runtime.ContentTypeCBOR} {
		t.Run(mediaType, func(t *testing.T) {
			resp, body := postCheckpoint(t, cborServer, ns, "web", "", mediaType)
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != mediaType {
				t.Fatalf("got %d %s: %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			info, ok := runtime.SerializerInfoForMediaType(codecs.SupportedMediaTypes(), mediaType)
			if !ok {
				t.Fatalf("no decoder for %s", mediaType)
			}
			result := &checkpointv1.PodCheckpointResult{}
			if _, _, err := codecs.DecoderToVersion(info.Serializer, checkpointv1.SchemeGroupVersion).Decode(body, nil, result); err != nil {
				t.Fatalf("decoding %q: %v", body, err)
			}
			if result.ContainerName != "app" || len(result.ArchivePaths) != 1 || result.CheckpointTime.IsZero() || result.PodUID == "" {
				t.Fatalf("incomplete result in %s: %+v", mediaType, result)
			}
			// Each request is its own checkpoint: only its time differs.
			result.CheckpointTime, result.DurationMilliseconds = metav1.Time{}, 0
			if first == nil {
				first = result
			} else if !apiequality.Semantic.DeepEqual(first, result) {
				t.Errorf("%s answered %+v, JSON %+v", mediaType, result, first)
			}
		})
	}

	t.Run("pretty", func(t *testing.T) {
		resp, body := postCheckpoint(t, cborServer, ns, "web", "pretty=true", runtime.ContentTypeJSON)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("\n  \"nodeName\": \"node1\"")) {
			t.Errorf("got %d, want an indented result: %s", resp.StatusCode, body)
		}
	})

	t.Run("an encoding the server cannot write", func(t *testing.T) {
		kubelet.Requests()
		resp, body := postCheckpoint(t, cborServer, ns, "web", "", "application/xml")
		if resp.StatusCode != http.StatusNotAcceptable || !bytes.Contains(body, []byte("only the following media types are accepted")) {
			t.Errorf("got %d %s, want 406 naming the media types", resp.StatusCode, body)
		}
		if requests := kubelet.Requests(); len(requests) != 0 {
			t.Errorf("the kubelet was asked for a checkpoint whose answer cannot be written: %+v", requests)
		}
	})
}
