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
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	genericapiserver "k8s.io/apiserver/pkg/server"
	serverstorage "k8s.io/apiserver/pkg/server/storage"
	"k8s.io/client-go/kubernetes/fake"
	restclient "k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
)

// TestSetUpCheckpoint: pods/checkpoint needs Leases, and says so when
// --runtime-config disables them; with them, it registers the hooks that
// start the claims and the Event recorder.
func TestSetUpCheckpoint(t *testing.T) {
	config := genericapiserver.NewConfig(serializer.NewCodecFactory(runtime.NewScheme()))
	config.LoopbackClientConfig = &restclient.Config{}
	config.ExternalAddress = "127.0.0.1:6443" // not served: the test only registers hooks
	config.EffectiveVersion = basecompatibility.NewEffectiveVersionFromString("", "", "")
	s, err := config.Complete(nil).New("test", genericapiserver.NewEmptyDelegate())
	if err != nil {
		t.Fatal(err)
	}
	client := fake.NewClientset()

	_, _, err = SetUpCheckpoint(s, serverstorage.NewResourceConfig(), nil, client, "apiserver-a", 4, time.Second)
	if err == nil || !strings.Contains(err.Error(), "the ContainerCheckpointAPI feature needs coordination.k8s.io/v1 leases, which --runtime-config disables") {
		t.Fatalf("leases disabled: got %v, want the error naming them", err)
	}

	resources := serverstorage.NewResourceConfig()
	resources.EnableVersions(coordinationv1.SchemeGroupVersion)
	claims, events, err := SetUpCheckpoint(s, resources, nil, client, "apiserver-a", 4, time.Second)
	if err != nil || claims == nil || events == nil {
		t.Fatalf("got %v, %v, %v", claims, events, err)
	}
	if claims.Max() != 4 || claims.Wait() != time.Second || claims.holder != "apiserver-a" {
		t.Errorf("claims of max %d, wait %s, holder %q: want 4, 1s, apiserver-a", claims.Max(), claims.Wait(), claims.holder)
	}
	// The hooks are registered: a second set-up on the same server is refused.
	if _, _, err := SetUpCheckpoint(s, resources, nil, client, "apiserver-a", 4, time.Second); err == nil || !strings.Contains(err.Error(), ClaimsHookName) {
		t.Errorf("a second set-up: got %v, want the hook %s already registered", err, ClaimsHookName)
	}
}
