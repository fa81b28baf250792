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

package v1

import (
	"context"

	"k8s.io/client-go/rest"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/client-go/kubernetes/scheme"
)

// PodsGetter has a method to return a PodInterface.
type PodsGetter interface {
	Pods(namespace string) PodInterface
}

// PodInterface has the checkpoint operation of pods.
type PodInterface interface {
	// Checkpoint asks the pod's kubelet to checkpoint one running container
	// and returns where the archive was written on the node. It blocks until
	// the checkpoint is written or opts.TimeoutSeconds (or the server's
	// default) passes.
	Checkpoint(ctx context.Context, podName string, opts *checkpointv1.PodCheckpointOptions) (*checkpointv1.PodCheckpointResult, error)
}

type pods struct {
	client rest.Interface
	ns     string
}

func newPods(c *CoreV1Client, namespace string) *pods {
	return &pods{client: c.RESTClient(), ns: namespace}
}

// Checkpoint POSTs to the pods/checkpoint subresource.
func (c *pods) Checkpoint(ctx context.Context, podName string, opts *checkpointv1.PodCheckpointOptions) (*checkpointv1.PodCheckpointResult, error) {
	if opts == nil {
		opts = &checkpointv1.PodCheckpointOptions{}
	}
	result := &checkpointv1.PodCheckpointResult{}
	err := c.client.Post().
		Namespace(c.ns).
		Resource("pods").
		Name(podName).
		SubResource("checkpoint").
		VersionedParams(opts, scheme.ParameterCodec).
		Do(ctx).
		Into(result)
	return result, err
}
