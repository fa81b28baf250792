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

// Package checkpoint tests the pods/checkpoint subresource of the real
// patched kube-apiserver, on a real etcd, against a TLS kubelet stand-in.
package checkpoint

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

const (
	nodeName     = "node1"
	deadNodeName = "deadnode"
	// oldNodeName runs containerd 1.7, which cannot checkpoint, and
	// windowsNodeName Windows, which CRIU does not run on; both are served by
	// the same kubelet stand-in as node1.
	oldNodeName     = "oldnode"
	windowsNodeName = "winnode"
	// requestTimeout is the --request-timeout of the server under test; the
	// long-running test checkpoints for longer than that.
	requestTimeout = 4 * time.Second
)

var (
	cluster *framework.Cluster
	server  *framework.APIServer
	kubelet *framework.FakeKubelet
	admin   kubernetes.Interface
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kube-checkpoint-integration-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir) //nolint:errcheck
	if cluster, err = framework.NewCluster(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cluster.Stop()
	server, err = cluster.StartAPIServer("apiserver-gate-on", framework.APIServerOptions{
		Binary:     "kube-apiserver",
		EtcdPrefix: "/gate-on",
		ExtraArgs: []string{
			"--feature-gates=ContainerCheckpointAPI=true",
			"--request-timeout=" + requestTimeout.String(),
			"--checkpoint-max-inflight-per-node=1",
			"--checkpoint-inflight-wait=2s",
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer server.Stop()
	admin = kubernetes.NewForConfigOrDie(server.Admin)
	if kubelet, err = framework.StartFakeKubelet(cluster.PKI, nodeName); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer kubelet.Stop()
	closedPort, err := framework.FreePort()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	oldNode, windowsNode := framework.LinuxNode, framework.LinuxNode
	oldNode.KubeletVersion, oldNode.ContainerRuntimeVersion = "v1.34.4", "containerd://1.7.35"
	windowsNode.OperatingSystem, windowsNode.ContainerRuntimeVersion = "windows", "containerd://2.2.9"
	for _, n := range []struct {
		name string
		port int
		info corev1.NodeSystemInfo
	}{
		{nodeName, kubelet.Port, framework.LinuxNode},
		{deadNodeName, closedPort, framework.LinuxNode},
		{oldNodeName, kubelet.Port, oldNode},
		{windowsNodeName, kubelet.Port, windowsNode},
	} {
		if err := framework.RegisterNodeWith(context.Background(), admin, n.name, n.port, n.info); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintf(os.Stderr, "apiserver log tail:\n%s\n", server.LogTail(6000))
	}
	return code
}

// newNamespace creates a namespace with the default service account that a
// controller manager would create.
func newNamespace(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	ns := "test-" + rand.String(6)
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = admin.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
	})
	return ns
}

var (
	running     = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}
	crashing    = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}
	completed   = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}
	always      = corev1.ContainerRestartPolicyAlways
	noAutomount = false
)

// podSpec describes a pod the way a kubelet would have reported it.
type podSpec struct {
	name       string
	node       string
	phase      corev1.PodPhase
	containers map[string]corev1.ContainerState
	order      []string
	// init containers, and whether each is a sidecar.
	initContainers map[string]corev1.ContainerState
	initOrder      []string
	sidecars       map[string]bool
}

func createPod(t *testing.T, ns string, p podSpec) *corev1.Pod {
	t.Helper()
	return createPodWith(t, admin, ns, p)
}

// createPodWith creates the pod through client.
func createPodWith(t testing.TB, admin kubernetes.Interface, ns string, p podSpec) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: p.name, Namespace: ns},
		Spec: corev1.PodSpec{
			NodeName:                     p.node,
			AutomountServiceAccountToken: &noAutomount,
		},
	}
	for _, c := range p.order {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "registry.invalid/" + c})
	}
	for _, c := range p.initOrder {
		ic := corev1.Container{Name: c, Image: "registry.invalid/" + c}
		if p.sidecars[c] {
			ic.RestartPolicy = &always
		}
		pod.Spec.InitContainers = append(pod.Spec.InitContainers, ic)
	}
	pod, err := admin.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.phase == "" {
		return pod
	}
	pod.Status.Phase = p.phase
	pod.Status.HostIP = "127.0.0.1"
	pod.Status.HostIPs = []corev1.HostIP{{IP: "127.0.0.1"}}
	for _, c := range p.order {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{Name: c, State: p.containers[c], Image: "registry.invalid/" + c})
	}
	for _, c := range p.initOrder {
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{Name: c, State: p.initContainers[c], Image: "registry.invalid/" + c})
	}
	pod, err = admin.CoreV1().Pods(ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return pod
}

// singlePod is a running pod with one running container "app" on node.
func singlePod(name, node string) podSpec {
	return podSpec{name: name, node: node, phase: corev1.PodRunning,
		order: []string{"app"}, containers: map[string]corev1.ContainerState{"app": running}}
}

// checkpointQuery POSTs to pods/checkpoint with a raw query, as any HTTP
// client could, and returns the status code and the error a client sees.
func checkpointQuery(t *testing.T, config *rest.Config, ns, pod, rawQuery string) (int, error) {
	t.Helper()
	client := kubernetes.NewForConfigOrDie(config)
	req := client.CoreV1().RESTClient().Post().AbsPath(fmt.Sprintf("/api/v1/namespaces/%s/pods/%s/checkpoint", ns, pod))
	values, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range values {
		for _, v := range vs {
			req = req.Param(k, v)
		}
	}
	var code int
	err = req.Do(context.Background()).StatusCode(&code).Error()
	return code, err
}

// expectRefusal checks what a client sees of a refused checkpoint: the
// status code, the reason of that code, and the words a user acts on.
func expectRefusal(t *testing.T, code int, err error, wantCode int, words ...string) {
	t.Helper()
	if code != wantCode || err == nil {
		t.Fatalf("got %d %v, want %d", code, err, wantCode)
	}
	if reason := apierrors.ReasonForError(err); reason != testutils.ReasonOf[int32(wantCode)] {
		t.Errorf("reason %s, want %s: %v", reason, testutils.ReasonOf[int32(wantCode)], err)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%q lacks %q", err.Error(), w)
		}
	}
}

// rawRequest sends method to path as a plain HTTP client would, with the
// admin's credentials, and returns the response and the Status it carries.
func rawRequest(t *testing.T, method, path string) (*http.Response, metav1.Status) {
	t.Helper()
	resp, body := send(t, server, method, path, "")
	var status metav1.Status
	_ = json.Unmarshal(body, &status)
	return resp, status
}

// send sends method to path of s with the admin's credentials and, unless
// empty, the Accept header accept; it returns the response and its body.
func send(t *testing.T, s *framework.APIServer, method, path, accept string) (*http.Response, []byte) {
	t.Helper()
	client, err := rest.HTTPClientFor(s.Admin)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func checkpoint(config *rest.Config, ns, pod string, opts *checkpointv1.PodCheckpointOptions) (*checkpointv1.PodCheckpointResult, error) {
	return typedv1.NewForConfigOrDie(config).Pods(ns).Checkpoint(context.Background(), pod, opts)
}

// kubeletAnswers answers every kubelet request with code and body.
func kubeletAnswers(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
	}
}

func kubeletArchive(w http.ResponseWriter, r *http.Request) {
	// The kubelet's answer: the archive it wrote, named as the kubelet names it.
	parts := strings.Split(r.URL.Path, "/") // /checkpoint/ns/pod/container
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"items":["/var/lib/kubelet/checkpoints/checkpoint-%s_%s-%s-2026-11-27T03:00:00Z.tar"]}`, parts[3], parts[2], parts[4])
}

func statusCode(err error) int32 {
	if status, ok := err.(apierrors.APIStatus); ok {
		return status.Status().Code
	}
	return 0
}
