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
	"slices"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
)

func TestCheckpointAuthorization(t *testing.T) {
	ns := newNamespace(t)
	createPod(t, ns, singlePod("web", nodeName))
	kubelet.SetHandler(kubeletArchive)
	ctx := context.Background()

	aliceCert, err := cluster.PKI.ClientCert("alice")
	if err != nil {
		t.Fatal(err)
	}
	alice := server.ClientConfig(aliceCert)
	forbidden := fmt.Sprintf(`pods "web" is forbidden: User "alice" cannot create resource "pods/checkpoint" in API group "" in the namespace "%s"`, ns)
	code, err := checkpointQuery(t, alice, ns, "web", "")
	if code != http.StatusForbidden || err == nil || err.Error() != forbidden {
		t.Fatalf("without the role: got %d %v, want 403 %s", code, err, forbidden)
	}

	// Impersonation is authorized as the impersonated user.
	bob := rest.CopyConfig(server.Admin)
	bob.Impersonate = rest.ImpersonationConfig{UserName: "bob"}
	code, err = checkpointQuery(t, bob, ns, "web", "")
	if want := fmt.Sprintf(`pods "web" is forbidden: User "bob" cannot create resource "pods/checkpoint" in API group "" in the namespace "%s"`, ns); code != http.StatusForbidden || err == nil || err.Error() != want {
		t.Errorf("impersonating bob: got %d %v, want 403 %s", code, err, want)
	}

	// Bound to the dedicated role in the namespace, alice can checkpoint.
	_, err = admin.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "alice-checkpoints"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:pod-checkpointer"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "alice"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		_, lastErr = checkpoint(alice, ns, "web", nil)
		return lastErr == nil, nil
	}); err != nil {
		t.Fatalf("alice bound to system:pod-checkpointer: %v", lastErr)
	}
	// ... only in that namespace.
	other := newNamespace(t)
	createPod(t, other, singlePod("web", nodeName))
	if code, err := checkpointQuery(t, alice, other, "web", ""); code != http.StatusForbidden {
		t.Errorf("alice in another namespace: got %d %v, want 403", code, err)
	}
}

func TestCheckpointBootstrapRoles(t *testing.T) {
	ctx := context.Background()
	kubeletAPIAdmin, err := admin.RbacV1().ClusterRoles().Get(ctx, "system:kubelet-api-admin", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !hasRule(kubeletAPIAdmin.Rules, "create", "nodes/checkpoint") {
		t.Errorf("system:kubelet-api-admin lacks create nodes/checkpoint: %+v", kubeletAPIAdmin.Rules)
	}
	if !hasRule(kubeletAPIAdmin.Rules, "*", "nodes/proxy") {
		t.Errorf("system:kubelet-api-admin lost upstream's rules: %+v", kubeletAPIAdmin.Rules)
	}

	checkpointer, err := admin.RbacV1().ClusterRoles().Get(ctx, "system:pod-checkpointer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []rbacv1.PolicyRule{
		{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods"}},
		{Verbs: []string{"create"}, APIGroups: []string{""}, Resources: []string{"pods/checkpoint"}},
	}
	if fmt.Sprint(checkpointer.Rules) != fmt.Sprint(want) || checkpointer.Annotations[rbacv1.AutoUpdateAnnotationKey] != "true" || checkpointer.Labels["kubernetes.io/bootstrapping"] != "rbac-defaults" {
		t.Errorf("system:pod-checkpointer: %+v", checkpointer)
	}

	// No default role but the dedicated one grants checkpoints: an archive
	// holds the container's memory, secrets included. admin, edit and view
	// are aggregated from the roles labelled to aggregate into them.
	roles, err := admin.RbacV1().ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	aggregated := 0
	for _, role := range roles.Items {
		if role.Name == "cluster-admin" || role.Name == "system:pod-checkpointer" || role.Name == "system:kubelet-api-admin" {
			continue
		}
		for label := range role.Labels {
			if strings.HasPrefix(label, "rbac.authorization.k8s.io/aggregate-to-") {
				aggregated++
			}
		}
		if hasRule(role.Rules, "create", "pods/checkpoint") {
			t.Errorf("ClusterRole %s grants create pods/checkpoint", role.Name)
		}
	}
	if aggregated == 0 {
		t.Error("found no aggregated roles: the check above checked nothing")
	}
	for label := range checkpointer.Labels {
		if strings.HasPrefix(label, "rbac.authorization.k8s.io/aggregate-to-") {
			t.Errorf("system:pod-checkpointer aggregates into a default role: %s", label)
		}
	}
}

// hasRule reports whether rules grant verb on resource of the core group,
// wildcards included.
func hasRule(rules []rbacv1.PolicyRule, verb, resource string) bool {
	parent, _, _ := strings.Cut(resource, "/")
	for _, r := range rules {
		if (slices.Contains(r.Verbs, verb) || slices.Contains(r.Verbs, "*")) &&
			(slices.Contains(r.APIGroups, "") || slices.Contains(r.APIGroups, "*")) &&
			(slices.Contains(r.Resources, resource) || slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, parent+"/*")) {
			return true
		}
	}
	return false
}
