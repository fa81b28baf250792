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

package rest

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/client-go/tools/record"
	"k8s.io/component-base/metrics/testutil"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/kubelet/client"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

type podGetter map[string]*api.Pod

func (g podGetter) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	if pod, ok := g[name]; ok {
		return pod, nil
	}
	return nil, apierrors.NewNotFound(api.Resource("pods"), name)
}

type nodeGetter map[string]*api.Node

func (g nodeGetter) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	if ns, _ := genericapirequest.NamespaceFrom(ctx); ns != "" || opts.ResourceVersion != "0" {
		return nil, fmt.Errorf("node %s read in namespace %q at resourceVersion %q, not from the watch cache", name, ns, opts.ResourceVersion)
	}
	if node, ok := g[name]; ok {
		return node, nil
	}
	return nil, apierrors.NewNotFound(api.Resource("nodes"), name)
}

// nodeRunning is node1 as its kubelet reports it.
func nodeRunning(runtime, os string) nodeGetter {
	return nodeGetter{"node1": {ObjectMeta: metav1.ObjectMeta{Name: "node1"}, Status: api.NodeStatus{NodeInfo: api.NodeSystemInfo{
		ContainerRuntimeVersion: runtime, KubeletVersion: "v1.34.4", OperatingSystem: os,
	}}}}
}

type kubeletConn struct{ info *client.ConnectionInfo }

func (k kubeletConn) GetConnectionInfo(context.Context, types.NodeName) (*client.ConnectionInfo, error) {
	return k.info, nil
}

type recorder struct {
	code int
	obj  runtime.Object
	err  error
}

func (r *recorder) Object(code int, obj runtime.Object) { r.code, r.obj = code, obj }
func (r *recorder) Error(err error)                     { r.err = err }

func runningPod() *api.Pod {
	return &api.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", UID: "uid-1"},
		Spec:       api.PodSpec{NodeName: "node1", Containers: []api.Container{{Name: "app"}}},
		Status: api.PodStatus{Phase: api.PodRunning, HostIP: "10.213.0.2", ContainerStatuses: []api.ContainerStatus{
			{Name: "app", State: api.ContainerState{Running: &api.ContainerStateRunning{}}},
		}},
	}
}

// kubelet serves h over TLS on loopback and returns the connection the
// apiserver would use.
func kubelet(t *testing.T, h http.HandlerFunc) kubeletConn {
	t.Helper()
	s := httptest.NewTLSServer(h)
	t.Cleanup(s.Close)
	u, _ := url.Parse(s.URL)
	host, port, _ := net.SplitHostPort(u.Host)
	return kubeletConn{&client.ConnectionInfo{Scheme: "https", Hostname: host, Port: port, Transport: s.Client().Transport}}
}

func connect(t *testing.T, r *CheckpointREST, opts *core.PodCheckpointOptions) *recorder {
	t.Helper()
	return connectPod(t, r, "web", opts)
}

func connectPod(t *testing.T, r *CheckpointREST, name string, opts *core.PodCheckpointOptions) *recorder {
	t.Helper()
	rec := &recorder{}
	ctx := genericapirequest.WithNamespace(context.Background(), "default")
	h, err := r.Connect(ctx, name, opts, rec)
	if err != nil {
		rec.err = err
		return rec
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/pods/web/checkpoint", nil))
	return rec
}

func TestCheckpointKubeletAnswers(t *testing.T) {
	for _, tc := range []struct {
		name    string
		code    int
		body    string
		want    int32
		message string
	}{
		{name: "archive written", code: 200, body: `{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`},
		{name: "no checkpoint endpoint", code: 404, body: "404 page not found", want: 501,
			message: "node node1 does not support checkpointing: its kubelet has no checkpoint endpoint (the kubelet's ContainerCheckpoint feature gate is off, or the kubelet is older than v1.25)"},
		{name: "container unknown to the kubelet", code: 404, body: "container app does not exist", want: 404,
			message: `pods "web/app (the kubelet of node node1: container app does not exist)" not found`},
		{name: "kubelet forbids", code: 403, body: "Forbidden", want: 500,
			message: "Internal error occurred: the kubelet of node node1 refused the apiserver (HTTP 403: Forbidden): the apiserver's kubelet client identity needs the create verb on nodes/checkpoint, which the ClusterRole system:kubelet-api-admin grants"},
		{name: "kubelet does not know the apiserver", code: 401, body: "Unauthorized", want: 500,
			message: "Internal error occurred: the kubelet of node node1 refused the apiserver (HTTP 401: Unauthorized): the apiserver's kubelet client identity needs the create verb on nodes/checkpoint, which the ClusterRole system:kubelet-api-admin grants"},
		// Without the node's own report the runtime is not named.
		{name: "runtime lacks the RPC", code: 500, body: "checkpointing of default/web/app failed (rpc error: code = Unimplemented desc = unknown method CheckpointContainer)", want: 501,
			message: "node node1 cannot checkpoint: its container runtime (unknown: the node reports no status.nodeInfo.containerRuntimeVersion) does not implement the CRI call CheckpointContainer; containerd v2.0 or newer and CRI-O v1.25 or newer can, with CRIU 4.2 or newer on the node (the kubelet: checkpointing of default/web/app failed (rpc error: code = Unimplemented desc = unknown method CheckpointContainer))"},
		{name: "runtime deadline", code: 500, body: "checkpointing of default/web/app failed (rpc error: code = DeadlineExceeded desc = context deadline exceeded)", want: 504,
			message: "Timeout: the checkpoint of container app of pod default/web did not complete within 1s"},
		{name: "empty answer", code: 200, body: `{"items":[]}`, want: 500,
			message: `Internal error occurred: the kubelet of node node1 answered the checkpoint without an archive path: {"items":[]}`},
		// What the kubelet says reaches errors and Events without control
		// characters that could forge a log line or drive a terminal.
		{name: "answer with control characters", code: 500, body: "dump failed\x1b[2J\nE1130 forged log line\x00", want: 500,
			message: "Internal error occurred: the container runtime of node node1 could not checkpoint container app (kubelet HTTP 500): dump failed [2J E1130 forged log line"},
		{name: "long answer", code: 500, body: strings.Repeat("é", 3000), want: 500,
			message: "Internal error occurred: the container runtime of node node1 could not checkpoint container app (kubelet HTTP 500): " + strings.Repeat("é", 512) + "... (4976 more bytes)"},
		// A failure of a runtime that can checkpoint stays a 500 with its reason.
		{name: "CRIU failed", code: 500, body: `checkpointing of default/web/app failed (rpc error: code = Unknown desc = checkpointing container "c1" failed: criu failed: type NOTIFY errno 0)`, want: 500,
			message: `Internal error occurred: the container runtime of node node1 could not checkpoint container app (kubelet HTTP 500): checkpointing of default/web/app failed (rpc error: code = Unknown desc = checkpointing container "c1" failed: criu failed: type NOTIFY errno 0)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen *http.Request
			conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
				seen = r
				w.WriteHeader(tc.code)
				_, _ = w.Write([]byte(tc.body))
			})
			r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour}
			rec := connect(t, r, &core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](1)})
			if seen == nil || seen.Method != http.MethodPost || seen.URL.Path != "/checkpoint/default/web/app" || seen.URL.RawQuery != "timeout=1" {
				t.Fatalf("kubelet saw %+v", seen)
			}
			if tc.want == 0 {
				result, ok := rec.obj.(*checkpointv1.PodCheckpointResult)
				if rec.err != nil || rec.code != 200 || !ok {
					t.Fatalf("got %d %v %v", rec.code, rec.obj, rec.err)
				}
				if result.NodeName != "node1" || result.HostIP != "10.213.0.2" || result.PodUID != "uid-1" || result.ContainerName != "app" || result.ArchivePaths[0] != "/var/lib/kubelet/checkpoints/a.tar" || result.Kind != "PodCheckpointResult" {
					t.Errorf("result %+v", result)
				}
				return
			}
			status, ok := rec.err.(apierrors.APIStatus)
			if !ok || status.Status().Code != tc.want || rec.err.Error() != tc.message {
				t.Errorf("got %v\nwant %d %s", rec.err, tc.want, tc.message)
			}
		})
	}
}

func TestCheckpointKubeletUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	_ = l.Close()
	conn := kubeletConn{&client.ConnectionInfo{Scheme: "https", Hostname: "127.0.0.1", Port: port, Transport: http.DefaultTransport}}
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour}
	rec := connect(t, r, &core.PodCheckpointOptions{})
	if !apierrors.IsServiceUnavailable(rec.err) {
		t.Errorf("got %v, want 503", rec.err)
	}
}

func TestCheckpointRefusedBeforeTheKubelet(t *testing.T) {
	called := false
	conn := kubelet(t, func(http.ResponseWriter, *http.Request) { called = true })
	notRunning := runningPod()
	notRunning.Status.ContainerStatuses[0].State = api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "OOMKilled"}}
	for _, tc := range []struct {
		name    string
		pods    podGetter
		opts    core.PodCheckpointOptions
		want    int32
		message string
	}{
		{"pod missing", podGetter{}, core.PodCheckpointOptions{}, 404, `pods "web" not found`},
		{"timeout above the cap", podGetter{"web": runningPod()}, core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](3601)}, 400,
			`timeoutSeconds: Invalid value: 3601: must be at most 3600 (kube-apiserver --checkpoint-max-timeout)`},
		{"container not running", podGetter{"web": notRunning}, core.PodCheckpointOptions{}, 400,
			"container app of pod web is terminated (OOMKilled): only a running container can be checkpointed, choose one of: [] (no container of the pod is running)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &CheckpointREST{Store: tc.pods, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour}
			rec := connect(t, r, &tc.opts)
			status, ok := rec.err.(apierrors.APIStatus)
			if !ok || status.Status().Code != tc.want || rec.err.Error() != tc.message {
				t.Errorf("got %v\nwant %d %s", rec.err, tc.want, tc.message)
			}
		})
	}
	if called {
		t.Error("a refused checkpoint reached the kubelet")
	}
}

// TestCheckpointBusyNode: a checkpoint whose node is at its bound waits for
// a place: it is refused with 429 when none is given back in time, and taken
// as soon as one is.
func TestCheckpointBusyNode(t *testing.T) {
	entered, release := make(chan struct{}, 2), make(chan struct{}, 2)
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
	})
	fakeClock := newFakeClock()
	other := runningPod()
	other.Name = "other"
	r := &CheckpointREST{Store: podGetter{"web": runningPod(), "other": other}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour,
		Claims: NewClaims(newLeaseStore(), "apiserver-a", 1, 10*time.Second, fakeClock), Clock: fakeClock}

	first := make(chan *recorder)
	go func() { first <- connect(t, r, &core.PodCheckpointOptions{}) }()
	<-entered
	busy := make(chan *recorder)
	go func() { busy <- connectPod(t, r, "other", &core.PodCheckpointOptions{}) }()
	waitForTimers(t, fakeClock, 2) // the first one's deadline, and the wait for a place
	fakeClock.Step(10 * time.Second)
	rec := <-busy
	status, ok := rec.err.(apierrors.APIStatus)
	if !ok || status.Status().Code != 429 || status.Status().Details.RetryAfterSeconds != 1 ||
		!strings.Contains(rec.err.Error(), "node node1 already has 1 checkpoints in flight") || !strings.Contains(rec.err.Error(), "none ended within 10s") {
		t.Fatalf("a checkpoint that found no place: got %v, want 429 naming the bound and the wait, with Retry-After 1", rec.err)
	}

	// One that waits takes the place the first gives back.
	third := make(chan *recorder)
	go func() { third <- connectPod(t, r, "other", &core.PodCheckpointOptions{}) }()
	waitForTimers(t, fakeClock, 2)
	release <- struct{}{}
	if rec := <-first; rec.err != nil {
		t.Fatalf("first checkpoint: %v", rec.err)
	}
	<-entered
	release <- struct{}{}
	if rec := <-third; rec.err != nil {
		t.Fatalf("the checkpoint that waited: %v", rec.err)
	}
}

func TestCheckpointEvents(t *testing.T) {
	answer := `{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`
	code := 200
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(code)
		_, _ = w.Write([]byte(answer))
	})
	events := record.NewFakeRecorder(10)
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, Events: events}
	connect(t, r, &core.PodCheckpointOptions{})
	code, answer = 500, "checkpointing of default/web/app failed (criu failed)"
	connect(t, r, &core.PodCheckpointOptions{})
	// Refused before the kubelet: no event.
	connect(t, r, &core.PodCheckpointOptions{Container: "nope"})
	close(events.Events)
	var got []string
	for e := range events.Events {
		got = append(got, e)
	}
	want := []string{
		"Normal Checkpointed Checkpointed container app on node node1: /var/lib/kubelet/checkpoints/a.tar",
		"Warning CheckpointFailed Checkpoint of container app on node node1 failed: Internal error occurred: the container runtime of node node1 could not checkpoint container app (kubelet HTTP 500): checkpointing of default/web/app failed (criu failed)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckpointArchivesNeverShareAName: the kubelet names archives by the
// second, so one container's checkpoints are kept a second apart, and one in
// flight refuses another.
func TestCheckpointArchivesNeverShareAName(t *testing.T) {
	entered, release := make(chan struct{}, 4), make(chan struct{}, 4)
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = fmt.Fprint(w, `{"items":["/var/lib/kubelet/checkpoints/checkpoint-web_default-app-2026-11-27T03:00:00Z.tar"]}`)
	})
	fakeClock := newFakeClock()
	store := newLeaseStore()
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, Claims: NewClaims(store, "apiserver-a", 0, 0, fakeClock), Clock: fakeClock}

	first := make(chan *recorder)
	go func() { first <- connect(t, r, &core.PodCheckpointOptions{}) }()
	<-entered
	busy := connect(t, r, &core.PodCheckpointOptions{})
	if status, ok := busy.err.(apierrors.APIStatus); !ok || status.Status().Code != 409 || !strings.Contains(busy.err.Error(), "its archive would be overwritten") {
		t.Fatalf("concurrent checkpoint: got %v, want 409 naming the archive", busy.err)
	}
	release <- struct{}{}
	if rec := <-first; rec.err != nil {
		t.Fatal(rec.err)
	}

	// The next one waits for the node's clock to pass the second the
	// previous archive is named after.
	release <- struct{}{}
	second := make(chan *recorder)
	go func() { second <- connect(t, r, &core.PodCheckpointOptions{}) }()
	waitForTimers(t, fakeClock, 2) // the spacing and the first claim's give-back; the deadline starts after them
	fakeClock.Step(time.Second - time.Millisecond)
	select {
	case <-entered:
		t.Fatal("the next checkpoint reached the kubelet within a second of the previous")
	default:
	}
	fakeClock.Step(time.Millisecond)
	<-entered
	if rec := <-second; rec.err != nil {
		t.Fatal(rec.err)
	}
}

// TestCheckpointAnswersFirst: the client has its answer while the writes that
// give the claims back are still on their way, and a next checkpoint of the
// container through the same replica waits for them and the second instead
// of being refused.
func TestCheckpointAnswersFirst(t *testing.T) {
	entered := make(chan struct{}, 2)
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		_, _ = fmt.Fprint(w, `{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`)
	})
	fakeClock := newFakeClock()
	store := newLeaseStore()
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour,
		Claims: NewClaims(store, "apiserver-a", 1, time.Minute, fakeClock), Clock: fakeClock}
	openUpdates, openDeletes := store.gate("update"), store.gate("delete")
	if rec := connect(t, r, &core.PodCheckpointOptions{}); rec.err != nil || rec.code != http.StatusOK {
		t.Fatalf("first checkpoint: %d %v", rec.code, rec.err)
	}
	<-entered
	store.waitStarted(t, "update", 1) // the end, written at once: the node is full

	next := make(chan *recorder, 1)
	go func() { next <- connect(t, r, &core.PodCheckpointOptions{}) }()
	time.Sleep(100 * time.Millisecond) // room for a wrong refusal
	select {
	case rec := <-next:
		t.Fatalf("the next checkpoint did not wait for the claims given back: %d %v", rec.code, rec.err)
	default:
	}
	openUpdates()
	openDeletes()
	var rec *recorder
	for rec == nil { // the second between two archives passes
		select {
		case rec = <-next:
		case <-time.After(10 * time.Millisecond):
			fakeClock.Step(100 * time.Millisecond)
		}
	}
	if rec.err != nil || rec.code != http.StatusOK {
		t.Fatalf("the next checkpoint: %d %v", rec.code, rec.err)
	}
	select {
	case <-entered:
	default:
		t.Fatal("the next checkpoint never reached the kubelet")
	}
}

// waitForTimers waits until n timers wait on fakeClock.
func waitForTimers(t *testing.T, fakeClock *clocktesting.FakeClock, n int) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return fakeClock.Waiters() >= n, nil
	})
	if err != nil {
		t.Fatalf("%d timers wait on the clock, want %d", fakeClock.Waiters(), n)
	}
}

// TestCheckpointKubeletRedirect: a redirect is refused, not followed with the
// apiserver's kubelet credentials.
func TestCheckpointKubeletRedirect(t *testing.T) {
	followed := false
	elsewhere := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { followed = true }))
	t.Cleanup(elsewhere.Close)
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
	})
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour}
	rec := connect(t, r, &core.PodCheckpointOptions{})
	if followed {
		t.Error("the redirect was followed")
	}
	if !apierrors.IsInternalError(rec.err) || !strings.Contains(rec.err.Error(), "answered the checkpoint with a redirect") {
		t.Errorf("got %v, want 500 naming the redirect", rec.err)
	}
}

// TestCheckpointClientHangsUp: the kubelet call is cancelled, and the outcome
// is the client's, not a failure of the node.
func TestCheckpointClientHangsUp(t *testing.T) {
	RegisterCheckpointMetrics()
	kubeletCancelled := make(chan struct{})
	asked := make(chan struct{})
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		close(asked)
		<-r.Context().Done()
		close(kubeletCancelled)
	})
	events := record.NewFakeRecorder(10)
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, Events: events}
	rec := &recorder{}
	h, err := r.Connect(genericapirequest.WithNamespace(context.Background(), "default"), "web", &core.PodCheckpointOptions{}, rec)
	if err != nil {
		t.Fatal(err)
	}
	before := requestsWithCode(t, "499")
	ctx, hangUp := context.WithCancel(context.Background())
	go func() {
		<-asked
		hangUp()
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/pods/web/checkpoint", nil).WithContext(ctx))
	select {
	case <-kubeletCancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the kubelet call was not cancelled")
	}
	if got := requestsWithCode(t, "499") - before; got != 1 {
		t.Errorf("requests_total{code=499} grew by %v, want 1", got)
	}
	if len(events.Events) != 0 {
		t.Errorf("recorded %q, want no Event", <-events.Events)
	}
	if rec.err != nil || rec.obj != nil {
		t.Errorf("answered a client that left: %v %v", rec.err, rec.obj)
	}
}

func requestsWithCode(t *testing.T, code string) float64 {
	t.Helper()
	v, err := testutil.GetCounterMetricValue(checkpointRequests.WithLabelValues(code))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCheckpointKubeletHangs: the apiserver gives up on a kubelet that does
// not answer at timeoutSeconds plus KubeletGrace on its clock, not before,
// answers 504 and drops the kubelet call.
func TestCheckpointKubeletHangs(t *testing.T) {
	asked, dropped := make(chan struct{}), make(chan struct{})
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
		close(asked)
		<-r.Context().Done()
		close(dropped)
	})
	fakeClock := clocktesting.NewFakeClock(time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC))
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour, Clock: fakeClock}
	answered := make(chan *recorder)
	go func() { answered <- connect(t, r, &core.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](30)}) }()
	<-asked

	fakeClock.Step(30*time.Second + KubeletGrace - time.Millisecond)
	if !fakeClock.HasWaiters() {
		t.Fatal("gave up before timeoutSeconds plus the grace")
	}
	fakeClock.Step(time.Millisecond)
	rec := <-answered
	if status, ok := rec.err.(apierrors.APIStatus); !ok || status.Status().Code != 504 ||
		rec.err.Error() != "Timeout: the checkpoint of container app of pod default/web did not complete within 30s" {
		t.Errorf("got %v, want 504 naming the timeout", rec.err)
	}
	<-dropped
}

// TestCheckpointRuntimeCannot holds what each runtime the skew policy allows
// answers when it cannot checkpoint at all (their own texts, read in their
// sources and measured by make test-e2e-skew), mapped to 501 naming the
// runtime the node reports; docs/version-skew.md has the same table.
func TestCheckpointRuntimeCannot(t *testing.T) {
	const failed = "checkpointing of default/web/app failed (rpc error: code = "
	for _, tc := range []struct {
		name, runtime, body string
		want                int32
		words               []string
	}{
		{name: "containerd 1.7 lacks the RPC", runtime: "containerd://1.7.35",
			body: failed + "Unimplemented desc = method CheckpointContainer not implemented)", want: 501,
			words: []string{"node node1 cannot checkpoint: its container runtime containerd 1.7.35 does not implement the CRI call CheckpointContainer; containerd v2.0 or newer can", "method CheckpointContainer not implemented"}},
		{name: "containerd 2.2 with enable_criu = false", runtime: "containerd://2.2.9",
			body: failed + `Unknown desc = failed to checkpoint container "c1": criu support is disabled by configuration)`, want: 501,
			words: []string{"its container runtime containerd 2.2.9 has CRIU turned off (containerd: enable_criu = false", "criu support is disabled by configuration"}},
		{name: "containerd 2.4 without CRIU", runtime: "containerd://2.4.2",
			body: failed + `Unknown desc = failed to checkpoint container "c1": criu binary not found in shim path or system PATH)`, want: 501,
			words: []string{"its container runtime containerd 2.4.2 finds no CRIU binary: install CRIU 4.2 or newer"}},
		{name: "containerd 2.0 without CRIU, as runc says it", runtime: "containerd://2.0.7",
			body: failed + `Unknown desc = checkpointing container "c1" failed: exec: "criu": executable file not found in $PATH)`, want: 501,
			words: []string{"its container runtime containerd 2.0.7 finds no CRIU binary"}},
		{name: "CRIU too old", runtime: "containerd://v2.3.7",
			body: failed + `Unknown desc = failed to checkpoint container "c1": checkpoint/restore requires at least CRIU 31600, current version is 31500)`, want: 501,
			words: []string{"finds a CRIU too old to checkpoint pods: install CRIU 4.2 or newer"}},
		{name: "CRI-O without checkpointing", runtime: "cri-o://1.34.0",
			body: failed + "Unknown desc = checkpoint/restore support not available)", want: 501,
			words: []string{"its container runtime cri-o 1.34.0 has checkpointing turned off (CRI-O: enable_criu_support = true"}},
		{name: "another runtime lacks the RPC", runtime: "example://0.1",
			body: failed + "Unimplemented desc = unknown method CheckpointContainer for service runtime.v1.RuntimeService)", want: 501,
			words: []string{"its container runtime example 0.1 does not implement the CRI call CheckpointContainer; containerd v2.0 or newer and CRI-O v1.25 or newer can"}},
		{name: "a capable runtime's failure", runtime: "containerd://v2.4.2",
			body: failed + `Unknown desc = checkpointing container "c1" failed: criu failed: type NOTIFY errno 0)`, want: 500,
			words: []string{"the container runtime of node node1 could not checkpoint container app (kubelet HTTP 500)", "criu failed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(tc.body))
			})
			r := &CheckpointREST{Store: podGetter{"web": runningPod()}, Nodes: nodeRunning(tc.runtime, "linux"), KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour}
			rec := connect(t, r, &core.PodCheckpointOptions{})
			expectStatus(t, rec.err, tc.want, tc.words...)
			if tc.want == 501 && apierrors.ReasonForError(rec.err) != StatusReasonNotImplemented {
				t.Errorf("reason %q, want %q", apierrors.ReasonForError(rec.err), StatusReasonNotImplemented)
			}
		})
	}
}

// TestCheckpointWindowsNode refuses a node that cannot run CRIU before its
// kubelet is asked, and counts the refusal.
func TestCheckpointWindowsNode(t *testing.T) {
	asked := false
	conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) { asked = true })
	RegisterCheckpointMetrics()
	before, _ := testutil.GetCounterMetricValue(checkpointRefused.WithLabelValues("501"))
	r := &CheckpointREST{Store: podGetter{"web": runningPod()}, Nodes: nodeRunning("containerd://2.2.9", "windows"), KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour}
	rec := connect(t, r, &core.PodCheckpointOptions{})
	expectStatus(t, rec.err, 501, "node node1 cannot checkpoint: it runs windows (status.nodeInfo.operatingSystem)", "CRIU, which runs only on Linux nodes")
	if asked {
		t.Error("the kubelet of a Windows node was asked to checkpoint")
	}
	if after, _ := testutil.GetCounterMetricValue(checkpointRefused.WithLabelValues("501")); after != before+1 {
		t.Errorf("refused_total{code=501} went from %v to %v, want one more", before, after)
	}

	// A node that is gone since the pod was bound is the 404 of the node.
	r.Nodes = nodeGetter{}
	rec = connect(t, r, &core.PodCheckpointOptions{})
	expectStatus(t, rec.err, 404, `nodes "node1" not found`)
}

// expectStatus checks the status code of err and the words a user acts on.
func expectStatus(t *testing.T, err error, code int32, words ...string) {
	t.Helper()
	status, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("got %v, want a %d status", err, code)
	}
	if status.Status().Code != code {
		t.Errorf("got %d %s, want %d", status.Status().Code, err, code)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message %q lacks %q", err, w)
		}
	}
}
