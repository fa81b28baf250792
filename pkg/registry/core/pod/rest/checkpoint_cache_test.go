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
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	api "k8s.io/kubernetes/pkg/apis/core"
	"k8s.io/kubernetes/pkg/kubelet/client"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

// cachedPods answers a read at resourceVersion 0 as the apiserver's watch
// cache holds the pods, and any other as etcd does, and lists the reads.
type cachedPods struct {
	cache, etcd podGetter
	mu          sync.Mutex
	reads       []string
}

func (g *cachedPods) Get(ctx context.Context, name string, opts *metav1.GetOptions) (runtime.Object, error) {
	from, pods := "etcd", g.etcd
	if opts.ResourceVersion == "0" {
		from, pods = "cache", g.cache
	}
	if ns, _ := genericapirequest.NamespaceFrom(ctx); ns != "default" {
		from += " in namespace " + strconv.Quote(ns)
	}
	g.mu.Lock()
	g.reads = append(g.reads, from)
	g.mu.Unlock()
	return pods.Get(ctx, name, opts)
}

// TestCheckpointPodFromTheCache: the pod is found in the watch cache and
// read again from etcd beside the claims, before the kubelet is asked; what
// etcd holds decides.
func TestCheckpointPodFromTheCache(t *testing.T) {
	recreated := runningPod()
	recreated.UID = "uid-2"
	pending := runningPod()
	pending.Status = api.PodStatus{Phase: api.PodPending}
	exited := runningPod()
	exited.Status.ContainerStatuses[0].State = api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "Completed"}}
	for _, tc := range []struct {
		name        string
		cache, etcd *api.Pod
		reads       []string
		want        int32
		message     string
	}{
		{name: "both agree", cache: runningPod(), etcd: runningPod(), reads: []string{"cache", "etcd"}},
		// The cache is behind: a pod it does not hold yet, or holds as not
		// running yet, is read from etcd at once and checkpointed.
		{name: "not in the cache yet", etcd: runningPod(), reads: []string{"cache", "etcd"}},
		{name: "pending in the cache", cache: pending, etcd: runningPod(), reads: []string{"cache", "etcd"}},
		// Refusals are what etcd holds.
		{name: "deleted", reads: []string{"cache", "etcd"}, want: 404, message: `pods "web" not found`},
		{name: "pending in etcd too", cache: pending, etcd: pending, reads: []string{"cache", "etcd"}, want: 400,
			message: "pod web is Pending: only a running pod can be checkpointed"},
		// The cache is behind the other way: the pod changed in etcd.
		{name: "exited since", cache: runningPod(), etcd: exited, reads: []string{"cache", "etcd"}, want: 400,
			message: "container app of pod web is terminated (Completed): only a running container can be checkpointed, choose one of: [] (no container of the pod is running)"},
		{name: "created again", cache: runningPod(), etcd: recreated, reads: []string{"cache", "etcd"}, want: 409,
			message: `Operation cannot be fulfilled on pods/checkpoint "web": pod web was deleted and created again (on node node1) while its checkpoint was prepared: retry`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asked := 0
			conn := kubelet(t, func(w http.ResponseWriter, r *http.Request) {
				asked++
				_, _ = w.Write([]byte(`{"items":["/var/lib/kubelet/checkpoints/a.tar"]}`))
			})
			pods := &cachedPods{cache: podGetter{}, etcd: podGetter{}}
			if tc.cache != nil {
				pods.cache["web"] = tc.cache
			}
			if tc.etcd != nil {
				pods.etcd["web"] = tc.etcd
			}
			fakeClock := newFakeClock()
			leases := newLeaseStore()
			r := &CheckpointREST{Store: pods, KubeletConn: conn, DefaultTimeout: time.Minute, MaxTimeout: time.Hour,
				Claims: NewClaims(leases, "apiserver-a", 4, 10*time.Second, fakeClock), Clock: fakeClock}
			rec := connect(t, r, &core.PodCheckpointOptions{})
			if !slices.Equal(pods.reads, tc.reads) {
				t.Errorf("pod read from %v, want %v", pods.reads, tc.reads)
			}
			if tc.want == 0 {
				if rec.err != nil || rec.code != 200 || asked != 1 {
					t.Fatalf("got %d %v with the kubelet asked %d times, want 200 once", rec.code, rec.err, asked)
				}
				return
			}
			status, ok := rec.err.(apierrors.APIStatus)
			if !ok || status.Status().Code != tc.want || rec.err.Error() != tc.message {
				t.Errorf("got %v\nwant %d %s", rec.err, tc.want, tc.message)
			}
			if asked != 0 {
				t.Errorf("the kubelet was asked %d times, want none", asked)
			}
			// Nothing is left held: the container's next checkpoint, once
			// etcd and the cache agree, goes through at once.
			pods.cache["web"], pods.etcd["web"] = runningPod(), runningPod()
			if rec := connect(t, r, &core.PodCheckpointOptions{}); rec.err != nil || asked != 1 {
				t.Errorf("the next checkpoint: %v with the kubelet asked %d times, want it through at once", rec.err, asked)
			}
		})
	}
}

// TestCachedNodeConnectionInfo: the kubelet is found from the node as the
// watch cache holds it (nodeGetter refuses any other read), at the address
// and port the node reports.
func TestCachedNodeConnectionInfo(t *testing.T) {
	nodes := nodeGetter{"node1": {ObjectMeta: metav1.ObjectMeta{Name: "node1"}, Status: api.NodeStatus{
		Addresses:       []api.NodeAddress{{Type: api.NodeHostName, Address: "node1.example"}, {Type: api.NodeInternalIP, Address: "10.213.0.2"}},
		DaemonEndpoints: api.NodeDaemonEndpoints{KubeletEndpoint: api.DaemonEndpoint{Port: 10250}},
	}}}
	conn, err := CachedNodeConnectionInfo(nodes, client.KubeletClientConfig{Port: 10250, PreferredAddressTypes: []string{"InternalIP", "Hostname"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := genericapirequest.WithNamespace(context.Background(), "default")
	info, err := conn.GetConnectionInfo(ctx, "node1")
	if err != nil || info.Scheme != "https" || info.Hostname != "10.213.0.2" || info.Port != "10250" || info.Transport == nil {
		t.Fatalf("got %+v, %v; want https://10.213.0.2:10250 with a transport", info, err)
	}
	if _, err := conn.GetConnectionInfo(ctx, "node2"); !apierrors.IsNotFound(err) {
		t.Errorf("an unknown node: got %v, want NotFound", err)
	}
}
