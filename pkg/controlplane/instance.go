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
	"reflect"

	rbacv1 "k8s.io/api/rbac/v1"
	genericapiserver "k8s.io/apiserver/pkg/server"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/kubernetes"
	"k8s.io/kubernetes/pkg/controlplane"
	controlplaneapiserver "k8s.io/kubernetes/pkg/controlplane/apiserver"
	"k8s.io/kubernetes/pkg/controlplane/controller/defaultservicecidr"
	"k8s.io/kubernetes/pkg/controlplane/controller/kubernetesservice"
	kubefeatures "k8s.io/kubernetes/pkg/features"
	kubeletclient "k8s.io/kubernetes/pkg/kubelet/client"

	podrest "github.com/kube-checkpoint/kubernetes/pkg/registry/core/pod/rest"
)

// New mirrors controlplane.CompletedConfig.New (v1.37.2). With a non-nil
// checkpoint it decorates the core storage provider with pods/checkpoint and
// reconciles the checkpoint's RBAC roles after start; with nil it is upstream's.
func New(c controlplane.CompletedConfig, delegationTarget genericapiserver.DelegationTarget, checkpoint *CheckpointOptions) (*controlplane.Instance, error) {
	if reflect.DeepEqual(c.Extra.KubeletClientConfig, kubeletclient.KubeletClientConfig{}) {
		return nil, fmt.Errorf("Master.New() called with empty config.KubeletClientConfig")
	}

	cp, err := c.ControlPlane.New(controlplaneapiserver.KubeAPIServer, delegationTarget)
	if err != nil {
		return nil, err
	}

	s := &controlplane.Instance{
		ControlPlane: cp,
	}

	client, err := kubernetes.NewForConfig(c.ControlPlane.Generic.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}

	restStorageProviders, err := c.StorageProviders(client)
	if err != nil {
		return nil, err
	}

	if checkpoint != nil {
		// The only change to upstream: the core group gains pods/checkpoint.
		// Every replica keeps its checkpoints apart from the others' through
		// claims (Leases) in the cluster's own store, and records every
		// checkpoint as an Event on its pod.
		claims, events, err := podrest.SetUpCheckpoint(s.ControlPlane.GenericAPIServer, c.ControlPlane.Generic.MergedResourceConfig, c.ControlPlane.Generic.RESTOptionsGetter, client,
			podrest.ClaimHolder(c.ControlPlane.Generic.APIServerID, c.ControlPlane.Generic.PublicAddress), checkpoint.MaxInflightPerNode, checkpoint.InflightWait)
		if err != nil {
			return nil, err
		}
		if restStorageProviders[0], err = withCheckpoint(restStorageProviders[0], checkpoint, events, claims, c.Extra.KubeletClientConfig); err != nil {
			return nil, err
		}
		// As upstream installs its rbac/bootstrap-roles hook only with the
		// RBAC group, so is this one: without it the hook could never succeed.
		if c.ControlPlane.Generic.MergedResourceConfig.ResourceEnabled(rbacv1.SchemeGroupVersion.WithResource("clusterroles")) {
			s.ControlPlane.GenericAPIServer.AddPostStartHookOrDie(checkpointRBACHookName, reconcileCheckpointRBAC)
		}
	}

	if err := s.ControlPlane.InstallAPIs(restStorageProviders...); err != nil {
		return nil, err
	}

	_, publicServicePort, err := c.ControlPlane.Generic.SecureServing.HostPort()
	if err != nil {
		return nil, fmt.Errorf("failed to get listener address: %w", err)
	}

	if err := c.Extra.EndpointReconcilerConfig.Reconciler.ValidateIP(c.ControlPlane.Generic.PublicAddress); err != nil {
		return nil, fmt.Errorf("cannot use public IP %s with endpoint reconciler: %w", c.ControlPlane.Generic.PublicAddress.String(), err)
	}

	kubernetesServiceCtrl := kubernetesservice.New(kubernetesservice.Config{
		PublicIP: c.ControlPlane.Generic.PublicAddress,

		EndpointReconciler: c.Extra.EndpointReconcilerConfig.Reconciler,
		EndpointInterval:   c.Extra.EndpointReconcilerConfig.Interval,

		ServiceIP:                 c.Extra.APIServerServiceIP,
		ServicePort:               c.Extra.APIServerServicePort,
		PublicServicePort:         publicServicePort,
		KubernetesServiceNodePort: c.Extra.KubernetesServiceNodePort,
	}, client, c.ControlPlane.Extra.VersionedInformers.Core().V1().Services())
	s.ControlPlane.GenericAPIServer.AddPostStartHookOrDie("bootstrap-controller", func(hookContext genericapiserver.PostStartHookContext) error {
		kubernetesServiceCtrl.Start(hookContext.Done())
		return nil
	})
	s.ControlPlane.GenericAPIServer.AddPreShutdownHookOrDie("stop-kubernetes-service-controller", func() error {
		kubernetesServiceCtrl.Stop()
		return nil
	})

	if utilfeature.DefaultFeatureGate.Enabled(kubefeatures.MultiCIDRServiceAllocator) {
		s.ControlPlane.GenericAPIServer.AddPostStartHookOrDie("start-kubernetes-service-cidr-controller", func(hookContext genericapiserver.PostStartHookContext) error {
			controller := defaultservicecidr.NewController(
				c.Extra.ServiceIPRange,
				c.Extra.SecondaryServiceIPRange,
				client,
			)
			// The default serviceCIDR must exist before the apiserver is healthy
			// otherwise the allocators for Services will not work.
			controller.Start(hookContext)
			return nil
		})
	}

	return s, nil
}
