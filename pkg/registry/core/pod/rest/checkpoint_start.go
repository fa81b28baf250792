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
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/registry/generic"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

const (
	// ClaimsHookName watches the claims of checkpoints and deletes the
	// expired ones.
	ClaimsHookName = "start-checkpoint-claims"
	// ClaimsShutdownHookName waits for the claims being given back.
	ClaimsShutdownHookName = "stop-checkpoint-claims"
	// EventsHookName starts the recorder of checkpoint Events.
	EventsHookName = "start-checkpoint-event-broadcaster"
	// EventsShutdownHookName stops it.
	EventsShutdownHookName = "stop-checkpoint-event-broadcaster"
)

// SetUpCheckpoint makes what pods/checkpoint is served with beside its
// storage, on the apiserver s: the claims (Leases in kube-system) that keep
// the checkpoints of every replica apart, watched and collected once s has
// started, and the recorder of the Event every checkpoint leaves on its pod,
// stopped before s shuts down. resources are the APIs s serves (the claims
// need coordination.k8s.io/v1 Leases), whose give-backs it waits for as s
// shuts down. The claims are written through a storage of Leases on
// optsGetter (nil: through client) and watched through client; holder names
// this replica in its claims; maxInflightPerNode and inflightWait are
// --checkpoint-max-inflight-per-node and --checkpoint-inflight-wait.
func SetUpCheckpoint(s *genericapiserver.GenericAPIServer, resources *serverstorage.ResourceConfig, optsGetter generic.RESTOptionsGetter, client kubernetes.Interface, holder string, maxInflightPerNode int, inflightWait time.Duration) (*Claims, record.EventRecorder, error) {
	if !resources.ResourceEnabled(coordinationv1.SchemeGroupVersion.WithResource("leases")) {
		return nil, nil, fmt.Errorf("the ContainerCheckpointAPI feature needs coordination.k8s.io/v1 leases, which --runtime-config disables: pods/checkpoint keeps the checkpoints of every apiserver apart with them")
	}
	claims := NewClaims(client, holder, maxInflightPerNode, inflightWait, nil)
	destroy := func() {}
	if optsGetter != nil {
		leases, destroyLeases, err := newStoreLeases(optsGetter)
		if err != nil {
			return nil, nil, err
		}
		claims.leases, destroy = leases, destroyLeases
	}
	broadcaster := record.NewBroadcaster()
	events := broadcaster.NewRecorder(clientgoscheme.Scheme, corev1.EventSource{Component: "kube-apiserver"})
	if err := s.AddPostStartHook(ClaimsHookName, func(hookContext genericapiserver.PostStartHookContext) error {
		go claims.Run(hookContext)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if err := s.AddPreShutdownHook(ClaimsShutdownHookName, func() error {
		claims.background.Wait() // each write is bounded by claimWriteTimeout
		destroy()
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if err := s.AddPostStartHook(EventsHookName, func(genericapiserver.PostStartHookContext) error {
		broadcaster.StartRecordingToSink(&corev1client.EventSinkImpl{Interface: client.CoreV1().Events("")})
		return nil
	}); err != nil {
		return nil, nil, err
	}
	if err := s.AddPreShutdownHook(EventsShutdownHookName, func() error {
		broadcaster.Shutdown()
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return claims, events, nil
}
