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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	api "k8s.io/kubernetes/pkg/apis/core"
	apiv1 "k8s.io/kubernetes/pkg/apis/core/v1"
	"k8s.io/kubernetes/pkg/kubelet/client"
	podregistry "k8s.io/kubernetes/pkg/registry/core/pod"
)

// CachedNodeConnectionInfo finds a node's kubelet as upstream's
// NodeConnectionInfoGetter does, with the transports config makes, from the
// node as the apiserver's watch cache holds it rather than from a read of
// etcd: a kubelet's address and port change when it restarts, not between
// two checkpoints.
func CachedNodeConnectionInfo(nodes podregistry.ResourceGetter, config client.KubeletClientConfig) (client.ConnectionInfoGetter, error) {
	return client.NewNodeConnectionInfoGetter(client.NodeGetterFunc(func(ctx context.Context, name string, _ metav1.GetOptions) (*corev1.Node, error) {
		obj, err := nodes.Get(genericapirequest.WithNamespace(ctx, ""), name, &metav1.GetOptions{ResourceVersion: "0"})
		if err != nil {
			return nil, err
		}
		node, ok := obj.(*api.Node)
		if !ok {
			return nil, fmt.Errorf("unexpected object type %T", obj)
		}
		versioned := &corev1.Node{}
		if err := apiv1.Convert_core_Node_To_v1_Node(node, versioned, nil); err != nil {
			return nil, err
		}
		return versioned, nil
	}), config)
}
