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

package v1_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/client-go/kubernetes/scheme"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

const notFoundBody = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"web\" not found","reason":"NotFound","details":{"name":"web","kind":"pods"},"code":404}`

func server(t *testing.T, code int, body string, seen *http.Request) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*seen = *r
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(s.Close)
	return s
}

// TestCheckpoint: the client asks for the encoding its config prefers and
// decodes the whole result from it.
func TestCheckpoint(t *testing.T) {
	testCheckpoint(t, checkpointClients)
}

type checkpointClient struct {
	name   string
	client func(*rest.Config) typedv1.CoreV1Interface
	accept string
}

var checkpointClients = []checkpointClient{
	{"from rest.Config", func(c *rest.Config) typedv1.CoreV1Interface { return typedv1.NewForConfigOrDie(c) }, runtime.ContentTypeJSON},
	{"from a protobuf rest.Config", func(c *rest.Config) typedv1.CoreV1Interface {
		c.ContentType = runtime.ContentTypeProtobuf
		return typedv1.NewForConfigOrDie(c)
	}, runtime.ContentTypeProtobuf},
}

func testCheckpoint(t *testing.T, clients []checkpointClient) {
	for _, tc := range clients {
		t.Run(tc.name, func(t *testing.T) {
			var seen http.Request
			s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen = *r
				// Answer in the first media type the client accepts, as the apiserver does.
				mediaType := strings.TrimSpace(strings.Split(r.Header.Get("Accept"), ",")[0])
				info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), mediaType)
				if !ok {
					t.Errorf("cannot answer %q", mediaType)
					return
				}
				w.Header().Set("Content-Type", mediaType)
				if err := scheme.Codecs.EncoderForVersion(info.Serializer, checkpointv1.SchemeGroupVersion).Encode(okResult(), w); err != nil {
					t.Error(err)
				}
			}))
			t.Cleanup(s.Close)
			result, err := tc.client(&rest.Config{Host: s.URL}).Pods("default").Checkpoint(context.Background(), "web",
				&checkpointv1.PodCheckpointOptions{Container: "app", TimeoutSeconds: ptr.To[int64](30)})
			if err != nil {
				t.Fatal(err)
			}
			if seen.Method != http.MethodPost || seen.URL.Path != "/api/v1/namespaces/default/pods/web/checkpoint" {
				t.Errorf("request: %s %s", seen.Method, seen.URL.Path)
			}
			if got := seen.URL.Query().Encode(); got != "container=app&timeoutSeconds=30" {
				t.Errorf("query: %s", got)
			}
			if got := seen.Header.Get("Accept"); !strings.HasPrefix(got, tc.accept) {
				t.Errorf("Accept: %q, want %s first", got, tc.accept)
			}
			// Typed clients drop apiVersion and kind, as client-go's do.
			want := okResult()
			want.TypeMeta = metav1.TypeMeta{}
			if !equality.Semantic.DeepEqual(result, want) {
				t.Errorf("result: %+v\nwant:   %+v", result, want)
			}
		})
	}
}

func okResult() *checkpointv1.PodCheckpointResult {
	return &checkpointv1.PodCheckpointResult{
		TypeMeta: metav1.TypeMeta{Kind: "PodCheckpointResult", APIVersion: "v1"},
		NodeName: "node1", HostIP: "10.213.0.2", Namespace: "default", PodName: "web", PodUID: "uid-1", ContainerName: "app",
		ArchivePaths:         []string{"/var/lib/kubelet/checkpoints/a.tar"},
		CheckpointTime:       metav1.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC),
		DurationMilliseconds: 1500,
	}
}

func TestCheckpointStatusError(t *testing.T) {
	var seen http.Request
	s := server(t, http.StatusNotFound, notFoundBody, &seen)
	_, err := typedv1.NewForConfigOrDie(&rest.Config{Host: s.URL}).Pods("default").Checkpoint(context.Background(), "web", nil)
	if !apierrors.IsNotFound(err) {
		t.Fatalf("want NotFound, got %v", err)
	}
	if err.Error() != `pods "web" not found` {
		t.Errorf("message: %q", err.Error())
	}
	if seen.URL.RawQuery != "" {
		t.Errorf("nil options sent a query: %q", seen.URL.RawQuery)
	}
}
