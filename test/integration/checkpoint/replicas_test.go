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
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
	"github.com/kube-checkpoint/kubernetes/test/integration/framework"
	testutils "github.com/kube-checkpoint/kubernetes/test/utils"
)

// secondKubelet names archives as the kubelet does, by the second the
// checkpoint started, and notes every checkpoint that overlapped another of
// the same container.
type secondKubelet struct {
	mu         sync.Mutex
	inFlight   map[string]int
	overlapped []string
}

func (k *secondKubelet) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(r.URL.Path, "/") // /checkpoint/ns/pod/container
	key := strings.Join(parts[2:], "/")
	k.mu.Lock()
	if k.inFlight[key]++; k.inFlight[key] > 1 {
		k.overlapped = append(k.overlapped, key)
	}
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.inFlight[key]--
		k.mu.Unlock()
	}()
	time.Sleep(50 * time.Millisecond)
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"items":["/var/lib/kubelet/checkpoints/checkpoint-%s_%s-%s-%s.tar"]}`, parts[3], parts[2], parts[4], time.Now().UTC().Format(time.RFC3339))
}

// TestCheckpointAcrossReplicas runs a second apiserver on the same etcd as
// the first: what one replica guarantees holds across both.
func TestCheckpointAcrossReplicas(t *testing.T) {
	replica, err := cluster.StartAPIServer("apiserver-replica", framework.APIServerOptions{
		Binary:     "kube-apiserver",
		EtcdPrefix: "/gate-on",
		ExtraArgs: []string{
			"--feature-gates=ContainerCheckpointAPI=true",
			"--checkpoint-max-inflight-per-node=1",
			"--checkpoint-inflight-wait=2s",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer replica.Stop()
	replicas := []*rest.Config{server.Admin, replica.Admin}
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	createPod(t, ns, singlePod("other", nodeName))

	t.Run("back-to-back through alternating replicas", func(t *testing.T) {
		k := &secondKubelet{inFlight: map[string]int{}}
		kubelet.SetHandler(k.serve)
		paths := map[string]bool{}
		for i := range 6 {
			result, err := checkpoint(replicas[i%2], ns, "web", nil)
			if err != nil {
				t.Fatalf("checkpoint %d: %v", i, err)
			}
			if paths[result.ArchivePaths[0]] {
				t.Errorf("checkpoint %d overwrote the archive of an earlier one: %s", i, result.ArchivePaths[0])
			}
			paths[result.ArchivePaths[0]] = true
		}
		if len(k.overlapped) > 0 {
			t.Errorf("checkpoints of one container overlapped on the node: %v", k.overlapped)
		}
	})

	t.Run("two at once through different replicas", func(t *testing.T) {
		entered, release := make(chan struct{}, 1), make(chan struct{})
		kubelet.SetHandler(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
			kubeletArchive(w, r)
		})
		for round := range 3 {
			first := make(chan error, 1)
			go func() {
				_, err := checkpoint(replicas[round%2], ns, "web", nil)
				first <- err
			}()
			select {
			case <-entered:
			case err := <-first:
				t.Fatalf("round %d, the first ended before it reached the kubelet: %v", round, err)
			case <-time.After(time.Minute):
				t.Fatalf("round %d, the first never reached the kubelet", round)
			}
			code, err := checkpointQuery(t, replicas[(round+1)%2], ns, "web", "")
			expectRefusal(t, code, err, http.StatusConflict, "a checkpoint of container app is already in progress (served by ", "its archive would be overwritten")
			release <- struct{}{}
			if err := <-first; err != nil {
				t.Fatalf("round %d, the first: %v", round, err)
			}
		}
	})

	t.Run("the bound per node counts both replicas", func(t *testing.T) {
		entered, release := make(chan struct{}, 2), make(chan struct{}, 2)
		kubelet.SetHandler(func(w http.ResponseWriter, r *http.Request) {
			entered <- struct{}{}
			<-release
			kubeletArchive(w, r)
		})
		first := make(chan error, 1)
		go func() {
			_, err := checkpoint(server.Admin, ns, "web", nil)
			first <- err
		}()
		<-entered
		// Sent as a plain HTTP client would: client-go waits out a 429's
		// Retry-After and retries by itself.
		resp, body := send(t, replica, http.MethodPost, "/api/v1/namespaces/"+ns+"/pods/other/checkpoint", "")
		if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(string(body), "node node1 already has 1 checkpoints in flight (kube-apiserver --checkpoint-max-inflight-per-node, counted over every apiserver)") ||
			!strings.Contains(string(body), "none ended within 2s") {
			t.Errorf("through the other replica: got %d %s\nwant 429 naming the bound over every apiserver", resp.StatusCode, body)
		}
		// One that waits on the other replica takes the place as soon as the
		// first replica gives it back.
		waiting := make(chan error, 1)
		go func() {
			_, err := checkpoint(replica.Admin, ns, "other", nil)
			waiting <- err
		}()
		time.Sleep(200 * time.Millisecond)
		release <- struct{}{}
		if err := <-first; err != nil {
			t.Fatalf("the checkpoint holding the place: %v", err)
		}
		<-entered
		release <- struct{}{}
		if err := <-waiting; err != nil {
			t.Fatalf("the checkpoint that waited on the other replica: %v", err)
		}
	})

	t.Run("no claim is left", func(t *testing.T) {
		expectNoClaims(t)
	})

	t.Run("namespace admins cannot touch claims", func(t *testing.T) {
		ctx := context.Background()
		if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-admin"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "alice"}},
			RoleRef:    rbacv1.RoleRef{Kind: "ClusterRole", Name: "admin"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		allowed := func(verb, namespace string) bool {
			review, err := admin.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User:               "alice",
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: namespace, Verb: verb, Group: "coordination.k8s.io", Resource: "leases"},
			}}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return review.Status.Allowed
		}
		// Leases are not in the admin role: grant them in her namespace, so
		// that the question is answered yes there.
		if _, err := admin.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Name: "leases"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"*"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "alice-leases"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: "alice"}},
			RoleRef:    rbacv1.RoleRef{Kind: "Role", Name: "leases"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			return allowed("delete", ns), nil
		})
		if err != nil {
			t.Fatal("alice cannot delete leases in her own namespace: the review proves nothing")
		}
		for _, verb := range []string{"create", "update", "patch", "delete", "deletecollection"} {
			if allowed(verb, podrest.ClaimNamespace) {
				t.Errorf("alice, admin of namespace %s, may %s leases in %s, where the claims live", ns, verb, podrest.ClaimNamespace)
			}
		}
	})

	t.Run("a replica stopped while holding claims", func(t *testing.T) {
		entered, stuck := make(chan struct{}), make(chan struct{})
		defer close(stuck)
		var once sync.Once
		kubelet.SetHandler(func(w http.ResponseWriter, r *http.Request) {
			first := false
			once.Do(func() { first = true })
			if first {
				close(entered)
				<-stuck // the replica dies while the node checkpoints
				return
			}
			kubeletArchive(w, r)
		})
		// Its claims last the checkpoint's timeout (1s) and the kubelet's grace.
		hold := time.Second + podrest.KubeletGrace
		go func() {
			_, _ = checkpoint(replica.Admin, ns, "web", &checkpointv1.PodCheckpointOptions{TimeoutSeconds: ptr.To[int64](1)})
		}()
		<-entered
		replica.Kill()
		killed := time.Now()
		code, err := checkpointQuery(t, server.Admin, ns, "web", "")
		expectRefusal(t, code, err, http.StatusConflict, "already in progress (served by ")
		var last error
		err = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, hold+5*time.Second, true, func(context.Context) (bool, error) {
			_, last = checkpoint(server.Admin, ns, "web", nil)
			return last == nil, nil
		})
		if err != nil {
			t.Fatalf("no checkpoint through the other replica within %s of the kill: %v", hold+5*time.Second, last)
		}
		if took := time.Since(killed); took < hold-time.Second || took > hold+2*time.Second {
			t.Errorf("the other replica checkpointed %s after the kill, want about %s (the claim's expiry)", took.Round(time.Millisecond), hold)
		}
		expectNoClaims(t)
	})
}

// expectNoClaims waits out the second a container's claim is kept after its
// checkpoint, then expects no claim left.
func expectNoClaims(t *testing.T) {
	t.Helper()
	var names []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		names, err = testutils.ClaimNames(ctx, admin)
		return err == nil && len(names) == 0, err
	})
	if err != nil {
		t.Errorf("claims left: %v", names)
	}
}
