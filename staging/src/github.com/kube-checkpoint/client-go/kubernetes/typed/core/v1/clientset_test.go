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

package v1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

// TestCheckpointFromClientset: a client made from an existing clientset
// keeps its encoding. (Upstream, the clientset's own CoreV1() has Checkpoint,
// so this test stays out of the patch series; pod_test.go goes with it.)
func TestCheckpointFromClientset(t *testing.T) {
	testCheckpoint(t, []checkpointClient{{"from a protobuf-preferring clientset", func(c *rest.Config) typedv1.CoreV1Interface {
		c.ContentType = runtime.ContentTypeProtobuf
		return typedv1.NewForClientset(kubernetes.NewForConfigOrDie(c))
	}, runtime.ContentTypeProtobuf}})
}
