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

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	registryrest "k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/storage/storagebackend/factory"
	"k8s.io/client-go/tools/cache"
	"k8s.io/kubernetes/pkg/apis/coordination"
	coordinationapiv1 "k8s.io/kubernetes/pkg/apis/coordination/v1"
	leasestorage "k8s.io/kubernetes/pkg/registry/coordination/lease/storage"
)

// leaseWriter is how the claims are read and written: through the
// apiserver's own storage of Leases (storeLeases), or through the API.
type leaseWriter interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error)
	Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error)
	Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// storeLeases writes the claims through the apiserver's storage of Leases,
// as upstream's repair controllers write the service IP allocations: with
// the same strategy, validation and optimistic concurrency as a request,
// without a round trip through its own handler chain. Reads are quorum reads.
type storeLeases struct {
	store *genericregistry.Store
}

// newStoreLeases builds a storage of Leases on optsGetter with no watch cache
// of its own (the API's serves the watch of the claims); destroy releases it.
func newStoreLeases(optsGetter generic.RESTOptionsGetter) (w *storeLeases, destroy func(), err error) {
	rest, err := leasestorage.NewREST(undecorated{optsGetter})
	if err != nil {
		return nil, nil, err
	}
	return &storeLeases{store: rest.Store}, rest.Store.DestroyFunc, nil
}

// undecorated gives the options of optsGetter with no watch cache, and a
// storage that updates a claim from the claim as this replica knows it.
type undecorated struct{ generic.RESTOptionsGetter }

func (u undecorated) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := u.RESTOptionsGetter.GetRESTOptions(resource, example)
	opts.Decorator = func(config *storagebackend.ConfigForResource, resourcePrefix string, keyFunc func(obj runtime.Object) (string, error), newFunc, newListFunc func() runtime.Object,
		getAttrs storage.AttrFunc, triggers storage.IndexerFuncs, indexers *cache.Indexers) (storage.Interface, factory.DestroyFunc, error) {
		s, destroy, err := generic.UndecoratedStorage(config, resourcePrefix, keyFunc, newFunc, newListFunc, getAttrs, triggers, indexers)
		return knownClaims{s}, destroy, err
	}
	return opts, err
}

type knownKey struct{}

// withKnown tells the update of a claim in ctx what this replica knows it
// was, from its last write or its watch.
func withKnown(ctx context.Context, known *coordinationv1.Lease) context.Context {
	return context.WithValue(ctx, knownKey{}, known)
}

// knownClaims updates a claim from the claim as this replica knows it
// (withKnown) rather than from a read of etcd first, as upstream's storage
// updates from its watch cache: the write is conditional on the claim's
// revision in etcd, and one on an older claim reads it and fails the
// update's precondition (409) as before.
type knownClaims struct{ storage.Interface }

func (s knownClaims) GuaranteedUpdate(ctx context.Context, key string, dest runtime.Object, ignoreNotFound bool, preconditions *storage.Preconditions, tryUpdate storage.UpdateFunc, cached runtime.Object) error {
	if known, ok := ctx.Value(knownKey{}).(*coordinationv1.Lease); ok && cached == nil {
		existing := &coordination.Lease{}
		if err := coordinationapiv1.Convert_v1_Lease_To_coordination_Lease(known, existing, nil); err == nil {
			cached = existing
		}
	}
	return s.Interface.GuaranteedUpdate(ctx, key, dest, ignoreNotFound, preconditions, tryUpdate, cached)
}

// context is what a request of verb on the claim name carries: its
// namespace, and what the declarative validation of Leases reads.
func (s *storeLeases) context(ctx context.Context, verb, name string) context.Context {
	ctx = genericapirequest.WithNamespace(ctx, ClaimNamespace)
	return genericapirequest.WithRequestInfo(ctx, &genericapirequest.RequestInfo{
		IsResourceRequest: true, Verb: verb, APIPrefix: "apis", APIGroup: coordinationv1.GroupName, APIVersion: "v1",
		Namespace: ClaimNamespace, Resource: "leases", Name: name,
	})
}

func (s *storeLeases) Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error) {
	obj, err := s.store.Get(s.context(ctx, "get", name), name, &opts)
	return external(obj, err)
}

func (s *storeLeases) Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error) {
	in, err := internal(lease)
	if err != nil {
		return nil, err
	}
	obj, err := s.store.Create(s.context(ctx, "create", lease.Name), in, registryrest.ValidateAllObjectFunc, &opts)
	recordClaimWrite(http.MethodPost, http.StatusCreated, err)
	return external(obj, err)
}

func (s *storeLeases) Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error) {
	in, err := internal(lease)
	if err != nil {
		return nil, err
	}
	obj, _, err := s.store.Update(s.context(ctx, "update", lease.Name), lease.Name, registryrest.DefaultUpdatedObjectInfo(in), registryrest.ValidateAllObjectFunc, registryrest.ValidateAllObjectUpdateFunc, false, &opts)
	recordClaimWrite(http.MethodPut, http.StatusOK, err)
	return external(obj, err)
}

func (s *storeLeases) Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error {
	_, _, err := s.store.Delete(s.context(ctx, "delete", name), name, registryrest.ValidateAllObjectFunc, &opts)
	recordClaimWrite(http.MethodDelete, http.StatusOK, err)
	return err
}

// internal is a claim as the storage holds it.
func internal(lease *coordinationv1.Lease) (*coordination.Lease, error) {
	in := &coordination.Lease{}
	return in, coordinationapiv1.Convert_v1_Lease_To_coordination_Lease(lease, in, nil)
}

// external is a claim the storage answered with, as the claims read it.
func external(obj runtime.Object, err error) (*coordinationv1.Lease, error) {
	if err != nil {
		return nil, err
	}
	out := &coordinationv1.Lease{}
	if err := coordinationapiv1.Convert_coordination_Lease_To_v1_Lease(obj.(*coordination.Lease), out, nil); err != nil {
		return nil, err
	}
	return out, nil
}
