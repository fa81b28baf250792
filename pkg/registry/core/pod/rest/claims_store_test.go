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
	"strconv"
	"strings"
	"testing"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/component-base/metrics/testutil"
	"k8s.io/kubernetes/pkg/apis/coordination"
	_ "k8s.io/kubernetes/pkg/apis/coordination/install"
	"k8s.io/kubernetes/pkg/registry/registrytest"
	"k8s.io/utils/ptr"
)

type leaseOptions struct{ opts generic.RESTOptions }

func (g leaseOptions) GetRESTOptions(schema.GroupResource, runtime.Object) (generic.RESTOptions, error) {
	return g.opts, nil
}

// TestStoreLeases: the claims written through the apiserver's own storage
// answer as the API would (409 to a write on an older or a deleted claim, 404
// to a read of a deleted one), are what a read gives back, and are counted by verb and code.
func TestStoreLeases(t *testing.T) {
	config, server := registrytest.NewEtcdStorageForResource(t, coordination.Resource("leases"))
	defer server.Terminate(t)
	leases, destroy, err := newStoreLeases(leaseOptions{generic.RESTOptions{StorageConfig: config, Decorator: generic.UndecoratedStorage, ResourcePrefix: "leases"}})
	if err != nil {
		t.Fatal(err)
	}
	defer destroy()
	RegisterCheckpointMetrics()
	ctx := context.Background()
	counted := func(verb string, code int) float64 {
		t.Helper()
		n, err := testutil.GetCounterMetricValue(claimWrites.WithLabelValues(verb, strconv.Itoa(code)))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := map[string]float64{"POST 201": counted(http.MethodPost, 201), "PUT 200": counted(http.MethodPut, 200), "PUT 409": counted(http.MethodPut, 409),
		"DELETE 409": counted(http.MethodDelete, 409), "DELETE 200": counted(http.MethodDelete, 200)}

	created, err := leases.Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "checkpoint-node-a", Namespace: ClaimNamespace, Labels: map[string]string{LabelClaim: ClaimNode}},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: ptr.To("apiserver-a"), LeaseDurationSeconds: ptr.To[int32](10)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.UID == "" || created.ResourceVersion == "" || created.Labels[LabelClaim] != ClaimNode {
		t.Fatalf("created %+v, want a stored claim with its UID, resourceVersion and labels", created.ObjectMeta)
	}
	got, err := leases.Get(ctx, created.Name, metav1.GetOptions{})
	if err != nil || *got.Spec.HolderIdentity != "apiserver-a" || got.ResourceVersion != created.ResourceVersion {
		t.Fatalf("get: %v, %+v", err, got)
	}

	next := created.DeepCopy()
	next.Spec.HolderIdentity = ptr.To("apiserver-b")
	updated, err := leases.Update(withKnown(ctx, created), next, metav1.UpdateOptions{})
	if err != nil || *updated.Spec.HolderIdentity != "apiserver-b" || updated.ResourceVersion == created.ResourceVersion {
		t.Fatalf("update: %v, %+v", err, updated)
	}
	// A write on the claim as it was before: another replica wrote first,
	// whether the write knows the claim as it was or reads it.
	for _, ctx := range []context.Context{withKnown(ctx, created), ctx} {
		_, err = leases.Update(ctx, next, metav1.UpdateOptions{})
		if !apierrors.IsConflict(err) || !lostRace(err) || !strings.Contains(err.Error(), "the object has been modified") {
			t.Fatalf("update of an older claim: got %v, want 409 Conflict", err)
		}
	}
	if got, err := leases.Get(ctx, created.Name, metav1.GetOptions{}); err != nil || got.ResourceVersion != updated.ResourceVersion || *got.Spec.HolderIdentity != "apiserver-b" {
		t.Fatalf("after the refused writes: %v, %+v, want the claim as updated", err, got)
	}
	err = leases.Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &created.UID, ResourceVersion: &created.ResourceVersion}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("delete of an older claim: got %v, want 409 Conflict", err)
	}
	if err := leases.Delete(ctx, created.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &updated.UID, ResourceVersion: &updated.ResourceVersion}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := leases.Get(ctx, created.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after delete: got %v, want 404", err)
	}
	// As through the API: the claim's UID is a precondition of its update.
	if _, err := leases.Update(withKnown(ctx, updated), updated, metav1.UpdateOptions{}); !apierrors.IsConflict(err) || !strings.Contains(err.Error(), "Precondition failed: UID") {
		t.Fatalf("update of a deleted claim: got %v, want 409 for its UID", err)
	}

	for key, want := range map[string]float64{"POST 201": 1, "PUT 200": 1, "PUT 409": 3, "DELETE 409": 1, "DELETE 200": 1} {
		verb, code, _ := strings.Cut(key, " ")
		n, _ := strconv.Atoi(code)
		if got := counted(verb, n) - before[key]; got != want {
			t.Errorf("%s writes counted: %v, want %v", key, got, want)
		}
	}
}
