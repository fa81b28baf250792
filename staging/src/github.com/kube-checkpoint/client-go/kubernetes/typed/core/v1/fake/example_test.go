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

package fake_test

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
	"github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1/fake"
)

// checkpointAll is code under test: it checkpoints every container it is
// given and reports each archive.
func checkpointAll(ctx context.Context, client typedv1.CoreV1Interface, namespace, pod string, containers ...string) {
	for _, c := range containers {
		result, err := client.Pods(namespace).Checkpoint(ctx, pod, &checkpointv1.PodCheckpointOptions{Container: c})
		switch {
		case apierrors.IsNotFound(err):
			fmt.Println("no such pod:", pod)
		case err != nil:
			fmt.Println("failed:", err)
		default:
			fmt.Printf("%s/%s on %s: %d archive(s)\n", result.PodName, result.ContainerName, result.NodeName, len(result.ArchivePaths))
		}
	}
}

func Example() {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "jupyter", Namespace: "lab"},
		Spec:       corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "notebook"}}},
	}
	client := fake.NewSimpleCoreV1(pod)

	checkpointAll(context.Background(), client, "lab", "jupyter", "notebook")
	checkpointAll(context.Background(), client, "lab", "gone", "notebook")

	action := client.Actions()[0]
	fmt.Println(action.GetVerb(), action.GetResource().Resource+"/"+action.GetSubresource())
	// Output:
	// jupyter/notebook on node1: 1 archive(s)
	// no such pod: gone
	// create pods/checkpoint
}
