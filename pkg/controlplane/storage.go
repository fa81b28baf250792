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

package controlplane

import (
	"fmt"

	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/client-go/tools/record"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"
	kubeletclient "k8s.io/kubernetes/pkg/kubelet/client"
	upstreampodrest "k8s.io/kubernetes/pkg/registry/core/pod/rest"

	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
)

// legacyProviderWithCheckpoint decorates upstream's core ("legacy") storage
// provider: it builds the core group exactly as upstream does and adds
// pods/checkpoint beside pods/exec, so that discovery, OpenAPI, routing,
// authorization and admission treat it like any core subresource.
type legacyProviderWithCheckpoint struct {
	controlplaneapiserver.RESTStorageProvider
	// postStartHook forwards the core provider's hook (the service IP and node
	// port repair controllers), which embedding the interface would drop.
	postStartHook genericapiserver.PostStartHookProvider
	checkpoint    *CheckpointOptions
	events        record.EventRecorder
	claims        *podrest.Claims
	// kubelet is how the apiserver reaches kubelets (--kubelet-*).
	kubelet kubeletclient.KubeletClientConfig
}

var _ genericapiserver.PostStartHookProvider = &legacyProviderWithCheckpoint{}

func withCheckpoint(legacy controlplaneapiserver.RESTStorageProvider, checkpoint *CheckpointOptions, events record.EventRecorder, claims *podrest.Claims, kubelet kubeletclient.KubeletClientConfig) (controlplaneapiserver.RESTStorageProvider, error) {
	if legacy.GroupName() != "" {
		return nil, fmt.Errorf("expected the core storage provider first, got group %q", legacy.GroupName())
	}
	hook, ok := legacy.(genericapiserver.PostStartHookProvider)
	if !ok {
		return nil, fmt.Errorf("the core storage provider %T no longer has a post-start hook", legacy)
	}
	return &legacyProviderWithCheckpoint{RESTStorageProvider: legacy, postStartHook: hook, checkpoint: checkpoint, events: events, claims: claims, kubelet: kubelet}, nil
}

// NewRESTStorage returns upstream's core group with pods/checkpoint added.
func (p *legacyProviderWithCheckpoint) NewRESTStorage(apiResourceConfigSource serverstorage.APIResourceConfigSource, restOptionsGetter generic.RESTOptionsGetter) (genericapiserver.APIGroupInfo, error) {
	info, err := p.RESTStorageProvider.NewRESTStorage(apiResourceConfigSource, restOptionsGetter)
	if err != nil {
		return info, err
	}
	storage := info.VersionedResourcesStorageMap["v1"]
	if storage["pods"] == nil {
		// Pods are disabled (--runtime-config); so is their checkpoint.
		return info, nil
	}
	exec, ok := storage["pods/exec"].(*upstreampodrest.ExecREST)
	if !ok {
		return info, fmt.Errorf("pods/exec is served by %T, not *rest.ExecREST: the checkpoint subresource cannot reuse its kubelet connection", storage["pods/exec"])
	}
	nodes, ok := storage["nodes"].(rest.Getter)
	if !ok {
		return info, fmt.Errorf("nodes are served by %T, which cannot get a node: the checkpoint subresource cannot read what a node reports of itself", storage["nodes"])
	}
	// The kubelet is found from the node in the watch cache, as what the
	// node reports of itself is.
	kubeletConn, err := podrest.CachedNodeConnectionInfo(nodes, p.kubelet)
	if err != nil {
		return info, err
	}
	storage["pods/checkpoint"] = &podrest.CheckpointREST{
		Store:                exec.Store,
		Nodes:                nodes,
		KubeletConn:          kubeletConn,
		DefaultTimeout:       p.checkpoint.DefaultTimeout,
		MaxTimeout:           p.checkpoint.MaxTimeout,
		RefuseNodeConditions: p.checkpoint.NodeConditions(),
		DiskReserve:          p.checkpoint.DiskReserve(),
		Claims:               p.claims,
		Events:               p.events,
		Serializer:           info.NegotiatedSerializer,
	}
	podrest.RegisterCheckpointMetrics()
	return info, nil
}

// PostStartHook forwards the core provider's post-start hook.
func (p *legacyProviderWithCheckpoint) PostStartHook() (string, genericapiserver.PostStartHookFunc, error) {
	return p.postStartHook.PostStartHook()
}
