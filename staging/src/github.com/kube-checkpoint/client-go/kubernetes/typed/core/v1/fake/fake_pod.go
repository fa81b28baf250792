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

// Package fake is a fake of the checkpoint client for tests, in the manner of
// client-go's fakes: every call is recorded as an action, reactors decide the
// answer, and by default a pod held by the fake's tracker is checkpointed.
package fake

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/testing"

	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
	"github.com/kube-checkpoint/client-go/kubernetes/scheme"
	typedv1 "github.com/kube-checkpoint/client-go/kubernetes/typed/core/v1"
)

var podsResource = corev1.SchemeGroupVersion.WithResource("pods")

// FakeCoreV1 implements CoreV1Interface on a testing.Fake.
type FakeCoreV1 struct {
	*testing.Fake
}

var _ typedv1.CoreV1Interface = &FakeCoreV1{}

// NewSimpleCoreV1 returns a fake whose tracker holds objects. Its default
// reactor checkpoints a pod of the tracker the way a kubelet names archives,
// and answers NotFound for other pods; prepend reactors to change that.
func NewSimpleCoreV1(objects ...runtime.Object) *FakeCoreV1 {
	tracker := testing.NewObjectTracker(scheme.Scheme, scheme.Codecs.UniversalDecoder())
	for _, obj := range objects {
		if err := tracker.Add(obj); err != nil {
			panic(err)
		}
	}
	f := &FakeCoreV1{Fake: &testing.Fake{}}
	f.AddReactor("create", "pods", checkpointReactor(tracker))
	f.AddReactor("*", "*", testing.ObjectReaction(tracker))
	return f
}

func checkpointReactor(tracker testing.ObjectTracker) testing.ReactionFunc {
	return func(action testing.Action) (bool, runtime.Object, error) {
		create, ok := action.(testing.CreateAction)
		if !ok || action.GetSubresource() != "checkpoint" {
			return false, nil, nil
		}
		name := create.(testing.CreateActionImpl).Name
		obj, err := tracker.Get(podsResource, action.GetNamespace(), name)
		if err != nil {
			return true, nil, err
		}
		pod := obj.(*corev1.Pod)
		opts := create.GetObject().(*checkpointv1.PodCheckpointOptions)
		container := opts.Container
		if container == "" && len(pod.Spec.Containers) == 1 {
			container = pod.Spec.Containers[0].Name
		}
		if container == "" {
			return true, nil, apierrors.NewBadRequest(fmt.Sprintf("a container name must be specified for pod %s", pod.Name))
		}
		now := time.Now().UTC()
		return true, &checkpointv1.PodCheckpointResult{
			NodeName:       pod.Spec.NodeName,
			HostIP:         pod.Status.HostIP,
			Namespace:      pod.Namespace,
			PodName:        pod.Name,
			PodUID:         string(pod.UID),
			ContainerName:  container,
			ArchivePaths:   []string{fmt.Sprintf("/var/lib/kubelet/checkpoints/checkpoint-%s_%s-%s-%s.tar", pod.Name, pod.Namespace, container, now.Format(time.RFC3339))},
			CheckpointTime: metav1.NewTime(now),
		}, nil
	}
}

// Pods returns the fake's checkpoint operations on namespace.
func (c *FakeCoreV1) Pods(namespace string) typedv1.PodInterface {
	return &fakePods{Fake: c, ns: namespace}
}

// RESTClient returns a nil RESTClient, as client-go's fakes do.
func (c *FakeCoreV1) RESTClient() rest.Interface {
	var ret *rest.RESTClient
	return ret
}

type fakePods struct {
	Fake *FakeCoreV1
	ns   string
}

// Checkpoint records a create action on pods/checkpoint with the options as
// its object, and returns what the reactors answer.
func (c *fakePods) Checkpoint(ctx context.Context, podName string, opts *checkpointv1.PodCheckpointOptions) (*checkpointv1.PodCheckpointResult, error) {
	if opts == nil {
		opts = &checkpointv1.PodCheckpointOptions{}
	}
	obj, err := c.Fake.Invokes(testing.NewCreateSubresourceAction(podsResource, podName, "checkpoint", c.ns, opts), &checkpointv1.PodCheckpointResult{})
	if obj == nil {
		return nil, err
	}
	return obj.(*checkpointv1.PodCheckpointResult), err
}
