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
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
)

func TestCheckpointSucceeds(t *testing.T) {
	ns := newNamespace(t)
	pod := createPod(t, ns, singlePod("web", nodeName))
	kubelet.SetHandler(kubeletArchive)
	kubelet.Requests()

	before := time.Now().Add(-time.Second)
	result, err := checkpoint(server.Admin, ns, "web", nil)
	if err != nil {
		t.Fatalf("checkpoint: %v", err)
	}
	want := checkpointv1.PodCheckpointResult{
		NodeName:      nodeName,
		HostIP:        "127.0.0.1",
		Namespace:     ns,
		PodName:       "web",
		PodUID:        string(pod.UID),
		ContainerName: "app",
		ArchivePaths:  []string{"/var/lib/kubelet/checkpoints/checkpoint-web_" + ns + "-app-2026-11-27T03:00:00Z.tar"},
	}
	got := *result
	got.TypeMeta, got.CheckpointTime, got.DurationMilliseconds = metav1.TypeMeta{}, metav1.Time{}, 0
	if got.NodeName != want.NodeName || got.HostIP != want.HostIP || got.Namespace != want.Namespace || got.PodName != want.PodName ||
		got.PodUID != want.PodUID || got.ContainerName != want.ContainerName || strings.Join(got.ArchivePaths, ",") != strings.Join(want.ArchivePaths, ",") {
		t.Errorf("result:\n got %+v\nwant %+v", got, want)
	}
	if result.CheckpointTime.Time.Before(before) || result.DurationMilliseconds < 0 {
		t.Errorf("checkpointTime %v, durationMilliseconds %v", result.CheckpointTime, result.DurationMilliseconds)
	}

	// The apiserver called the kubelet with its own kubelet client identity
	// and the server's default timeout.
	requests := kubelet.Requests()
	wantReq := framework.KubeletRequest{Method: "POST", Path: "/checkpoint/" + ns + "/web/app", RawQuery: "timeout=120", ClientCN: framework.KubeletClientUser}
	if len(requests) != 1 || requests[0] != wantReq {
		t.Errorf("kubelet saw %+v, want [%+v]", requests, wantReq)
	}

	// An explicit container and timeout reach the kubelet as they are.
	if _, err := checkpoint(server.Admin, ns, "web", &checkpointv1.PodCheckpointOptions{Container: "app", TimeoutSeconds: ptr.To[int64](7)}); err != nil {
		t.Fatal(err)
	}
	if requests := kubelet.Requests(); len(requests) != 1 || requests[0].RawQuery != "timeout=7" {
		t.Errorf("kubelet saw %+v, want timeout=7", requests)
	}
}

// TestCheckpointBadRequests covers every row of the error table that the
// apiserver decides without asking the kubelet.
func TestCheckpointBadRequests(t *testing.T) {
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	createPod(t, ns, podSpec{name: "unbound", order: []string{"app"}})
	createPod(t, ns, podSpec{name: "pending", node: nodeName, phase: corev1.PodPending, order: []string{"app"},
		containers: map[string]corev1.ContainerState{"app": {Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}})
	createPod(t, ns, podSpec{name: "succeeded", node: nodeName, phase: corev1.PodSucceeded,
		order: []string{"app"}, containers: map[string]corev1.ContainerState{"app": completed}})
	createPod(t, ns, podSpec{
		name: "multi", node: nodeName, phase: corev1.PodRunning,
		order:          []string{"app", "helper"},
		containers:     map[string]corev1.ContainerState{"app": running, "helper": crashing},
		initOrder:      []string{"setup", "proxy"},
		initContainers: map[string]corev1.ContainerState{"setup": completed, "proxy": running},
		sidecars:       map[string]bool{"proxy": true},
	})
	kubelet.SetHandler(kubeletArchive)
	kubelet.Requests()

	// The words a user acts on; the whole messages are the unit tests'.
	for _, tc := range []struct {
		name, pod, query string
		code             int
		words            []string
	}{
		{"pod missing", "nope", "", 404, []string{`pods "nope" not found`}},
		{"pod not bound", "unbound", "", 400, []string{"pod unbound is not bound to a node yet"}},
		{"pod pending", "pending", "", 400, []string{"pod pending is Pending"}},
		{"pod succeeded", "succeeded", "", 400, []string{"pod succeeded is Succeeded"}},
		{"unknown container", "web", "container=nope", 400, []string{"container nope is not valid", "choose one of: [app]"}},
		{"container not running", "multi", "container=helper", 400, []string{"waiting (CrashLoopBackOff)", "choose one of: [proxy app]"}},
		{"completed init container", "multi", "container=setup", 400, []string{"terminated (Completed)", "choose one of: [proxy app]"}},
		{"several containers, none named", "multi", "", 400, []string{"a container name must be specified", "choose one of: [proxy app]"}},
		{"negative timeout", "web", "timeoutSeconds=-1", 400, []string{"timeoutSeconds", "must be greater than 0"}},
		{"zero timeout", "web", "timeoutSeconds=0", 400, []string{"timeoutSeconds", "must be greater than 0"}},
		{"timeout not a number", "web", "timeoutSeconds=abc", 400, []string{"timeoutSeconds", "a whole number of seconds"}},
		{"timeout above the cap", "web", "timeoutSeconds=1801", 400, []string{"must be at most 1800", "--checkpoint-max-timeout"}},
		{"timeout with a unit", "web", "timeoutSeconds=10s", 400, []string{"timeoutSeconds", "a whole number of seconds"}},
		{"the KEP's timeout parameter", "web", "timeout=10", 400, []string{"takes timeoutSeconds"}},
		{"unknown parameter", "web", "container=app&follow=true", 400, []string{"follow", "not a parameter of pods/checkpoint"}},
		{"repeated timeoutSeconds", "web", "timeoutSeconds=5&timeoutSeconds=600", 400, []string{"timeoutSeconds", "given 2 times"}},
		{"repeated container", "multi", "container=app&container=proxy", 400, []string{"container", "given 2 times"}},
		{"container name that cannot exist", "web", "container=Bad_Name", 400, []string{"container", "RFC 1123 label"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, err := checkpointQuery(t, server.Admin, ns, tc.pod, tc.query)
			expectRefusal(t, code, err, tc.code, tc.words...)
		})
	}
	if requests := kubelet.Requests(); len(requests) != 0 {
		t.Errorf("refused requests reached the kubelet: %+v", requests)
	}

	// The sidecar and a named regular container can be checkpointed.
	for _, c := range []string{"proxy", "app"} {
		if result, err := checkpoint(server.Admin, ns, "multi", &checkpointv1.PodCheckpointOptions{Container: c}); err != nil || result.ContainerName != c {
			t.Errorf("checkpoint of %s: %+v %v", c, result, err)
		}
	}
}

// TestCheckpointKubeletOutcomes maps every answer of the kubelet.
func TestCheckpointKubeletOutcomes(t *testing.T) {
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	createPod(t, ns, singlePod("stranded", deadNodeName))
	createPod(t, ns, singlePod("old", oldNodeName))

	for _, tc := range []struct {
		name    string
		pod     string
		query   string
		kubelet http.HandlerFunc
		code    int
		// The words a user acts on; the whole messages are the unit tests'.
		words []string
	}{
		{
			name: "kubelet without the checkpoint endpoint", pod: "web",
			kubelet: kubeletAnswers(404, "404 page not found"),
			code:    501, words: []string{"node node1 does not support checkpointing", "ContainerCheckpoint"},
		},
		{
			name: "kubelet does not know the container", pod: "web",
			kubelet: kubeletAnswers(404, "container app does not exist"),
			code:    404, words: []string{"the kubelet of node node1: container app does not exist"},
		},
		{
			name: "kubelet refuses the apiserver", pod: "web",
			kubelet: kubeletAnswers(403, "Forbidden (user=kube-apiserver-kubelet-client, verb=create, resource=nodes, subresource(s)=[checkpoint])"),
			code:    500, words: []string{"refused the apiserver (HTTP 403", "nodes/checkpoint", "system:kubelet-api-admin"},
		},
		{
			name: "runtime cannot checkpoint", pod: "web",
			kubelet: kubeletAnswers(500, "checkpointing of ns/web/app failed (rpc error: code = Unknown desc = CRIU version check failed: CRIU version 31700 must be at least 40200)"),
			code:    500, words: []string{"could not checkpoint container app", "CRIU version 31700 must be at least 40200"},
		},
		{
			name: "runtime without CheckpointContainer (containerd 1.7)", pod: "old",
			kubelet: kubeletAnswers(500, "checkpointing of ns/old/app failed (rpc error: code = Unimplemented desc = method CheckpointContainer not implemented)"),
			code:    501, words: []string{"node oldnode cannot checkpoint: its container runtime containerd 1.7.35 does not implement the CRI call CheckpointContainer; containerd v2.0 or newer can", "method CheckpointContainer not implemented"},
		},
		{
			name: "runtime with CRIU turned off", pod: "web",
			kubelet: kubeletAnswers(500, `checkpointing of ns/web/app failed (rpc error: code = Unknown desc = failed to checkpoint container "c1": criu support is disabled by configuration)`),
			code:    501, words: []string{"node node1 cannot checkpoint: its container runtime containerd 2.2.9 has CRIU turned off (containerd: enable_criu = false", "criu support is disabled by configuration"},
		},
		{
			name: "runtime timed out", pod: "web", query: "timeoutSeconds=3",
			kubelet: kubeletAnswers(500, "checkpointing of ns/web/app failed (rpc error: code = DeadlineExceeded desc = context deadline exceeded)"),
			code:    504, words: []string{"did not complete within 3s"},
		},
		{
			name: "kubelet hangs past the timeout", pod: "web", query: "timeoutSeconds=1",
			kubelet: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-time.After(time.Minute):
				}
			},
			code: 504, words: []string{"did not complete within 1s"},
		},
		{
			name: "kubelet answers nonsense", pod: "web",
			kubelet: kubeletAnswers(200, "<html>"),
			code:    500, words: []string{"answered the checkpoint without an archive path: <html>"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kubelet.SetHandler(tc.kubelet)
			code, err := checkpointQuery(t, server.Admin, ns, tc.pod, tc.query)
			expectRefusal(t, code, err, tc.code, tc.words...)
		})
	}

	t.Run("kubelet redirects", func(t *testing.T) {
		// Following it would send the apiserver's kubelet credentials on.
		kubelet.SetHandler(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/steal"+r.URL.Path, http.StatusFound)
		})
		kubelet.Requests()
		code, err := checkpointQuery(t, server.Admin, ns, "web", "")
		if code != 500 || err == nil || !strings.Contains(err.Error(), "answered the checkpoint with a redirect") {
			t.Errorf("got %d %v, want 500 naming the redirect", code, err)
		}
		if requests := kubelet.Requests(); len(requests) != 1 {
			t.Errorf("the kubelet stand-in got %d requests, want 1: %+v", len(requests), requests)
		}
	})

	t.Run("windows node", func(t *testing.T) {
		// CRIU runs only on Linux: the kubelet is not asked.
		createPod(t, ns, singlePod("windows", windowsNodeName))
		kubelet.SetHandler(kubeletArchive)
		kubelet.Requests()
		code, err := checkpointQuery(t, server.Admin, ns, "windows", "")
		expectRefusal(t, code, err, 501, "node winnode cannot checkpoint: it runs windows (status.nodeInfo.operatingSystem)", "runs only on Linux nodes")
		if requests := kubelet.Requests(); len(requests) != 0 {
			t.Errorf("the kubelet of a Windows node got %d requests: %+v", len(requests), requests)
		}
	})

	t.Run("kubelet down", func(t *testing.T) {
		start := time.Now()
		code, err := checkpointQuery(t, server.Admin, ns, "stranded", "")
		if code != 503 || err == nil || !strings.HasPrefix(err.Error(), "cannot reach the kubelet of node deadnode: ") || !strings.Contains(err.Error(), "connection refused") {
			t.Errorf("got %d %v, want 503 cannot reach the kubelet of node deadnode: ... connection refused", code, err)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Errorf("a down kubelet took %s to report", elapsed)
		}
	})
}

// TestCheckpointIsLongRunning checkpoints for longer than --request-timeout.
func TestCheckpointIsLongRunning(t *testing.T) {
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	slow := requestTimeout + 2*time.Second
	kubelet.SetHandler(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(slow)
		kubeletArchive(w, r)
	})
	result, err := checkpoint(server.Admin, ns, "web", &checkpointv1.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](30)})
	if err != nil {
		t.Fatalf("a checkpoint of %s under --request-timeout=%s: %v", slow, requestTimeout, err)
	}
	if result.DurationMilliseconds < slow.Milliseconds() {
		t.Errorf("duration %dms, want at least %s", result.DurationMilliseconds, slow)
	}
}

func TestCheckpointDefaultAdmissionLetsConnectThrough(t *testing.T) {
	// PodSecurity decodes pod subresources it does not know as Pods: in an
	// enforcing namespace it must still let the checkpoint through.
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	nsObj, err := admin.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nsObj.Labels["pod-security.kubernetes.io/enforce"] = "restricted"
	if _, err := admin.CoreV1().Namespaces().Update(context.Background(), nsObj, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	kubelet.SetHandler(kubeletArchive)
	if _, err := checkpoint(server.Admin, ns, "web", nil); err != nil {
		t.Fatalf("checkpoint in a restricted namespace: %v", err)
	}
}

// TestCheckpointWrongRequests are requests no client should send.
func TestCheckpointWrongRequests(t *testing.T) {
	ns := newNamespace(t)
	other := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	kubelet.SetHandler(kubeletArchive)
	kubelet.Requests()
	for _, tc := range []struct {
		name, method, path string
		code               int
		message            string
	}{
		{"GET", http.MethodGet, "/api/v1/namespaces/" + ns + "/pods/web/checkpoint", 405, `the server does not allow this method on the requested resource`},
		{"PUT", http.MethodPut, "/api/v1/namespaces/" + ns + "/pods/web/checkpoint", 405, `the server does not allow this method on the requested resource`},
		{"DELETE", http.MethodDelete, "/api/v1/namespaces/" + ns + "/pods/web/checkpoint", 405, `the server does not allow this method on the requested resource`},
		{"the pod in another namespace", http.MethodPost, "/api/v1/namespaces/" + other + "/pods/web/checkpoint", 404, `pods "web" not found`},
		{"a namespace that cannot exist", http.MethodPost, "/api/v1/namespaces/Not_A_Namespace/pods/web/checkpoint", 404, `pods "web" not found`},
		{"a pod name that cannot exist", http.MethodPost, "/api/v1/namespaces/" + ns + "/pods/Not_A_Pod/checkpoint", 404, `pods "Not_A_Pod" not found`},
		{"timeoutSeconds with a unit", http.MethodPost, "/api/v1/namespaces/" + ns + "/pods/web/checkpoint?timeoutSeconds=30s", 400, `timeoutSeconds: Invalid value: "30s": must be a whole number of seconds`},
		{"a cluster-scoped checkpoint", http.MethodPost, "/api/v1/pods/web/checkpoint", 404, `the server could not find the requested resource`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, status := rawRequest(t, tc.method, tc.path)
			if resp.StatusCode != tc.code || status.Message != tc.message {
				t.Errorf("got %d %q\nwant %d %q", resp.StatusCode, status.Message, tc.code, tc.message)
			}
		})
	}
	if requests := kubelet.Requests(); len(requests) != 0 {
		t.Errorf("wrong requests reached the kubelet: %+v", requests)
	}
}
