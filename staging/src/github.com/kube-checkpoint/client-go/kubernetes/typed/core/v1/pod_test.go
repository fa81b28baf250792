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
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

const okBody = `{"kind":"PodCheckpointResult","apiVersion":"v1","nodeName":"node1","hostIP":"10.213.0.2","namespace":"default","podName":"web","containerName":"app","archivePaths":["/var/lib/kubelet/checkpoints/a.tar"],"checkpointTime":"2026-11-27T03:00:00Z","durationMilliseconds":1500}`

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

func TestCheckpoint(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(*rest.Config) typedv1.CoreV1Interface
	}{
		{"from rest.Config", func(c *rest.Config) typedv1.CoreV1Interface { return typedv1.NewForConfigOrDie(c) }},
		{"from a protobuf-preferring clientset", func(c *rest.Config) typedv1.CoreV1Interface {
			c.ContentType = "application/vnd.kubernetes.protobuf"
			return typedv1.NewForClientset(kubernetes.NewForConfigOrDie(c))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen http.Request
			s := server(t, http.StatusOK, okBody, &seen)
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
			if got := seen.Header.Get("Accept"); got != "application/json" {
				t.Errorf("Accept: %q", got)
			}
			if result.NodeName != "node1" || result.ContainerName != "app" || len(result.ArchivePaths) != 1 || result.DurationMilliseconds != 1500 {
				t.Errorf("result: %+v", result)
			}
		})
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
