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

// Package features adds the ContainerCheckpointAPI feature gate to the
// kube-apiserver's gate, beside the gates of k8s.io/kubernetes/pkg/features.
package features

import (
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/version"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/component-base/featuregate"
	kubefeatures "k8s.io/kubernetes/pkg/features"
)

// ContainerCheckpointAPI serves the checkpoint subresource of pods
// (POST /api/v1/namespaces/{namespace}/pods/{name}/checkpoint), which asks the
// pod's kubelet to checkpoint a running container (KEP-5091).
//
// owner: @kube-checkpoint
// kep: https://kep.k8s.io/5091
const ContainerCheckpointAPI featuregate.Feature = "ContainerCheckpointAPI"

var defaultVersionedFeatureGates = map[featuregate.Feature]featuregate.VersionedSpecs{
	ContainerCheckpointAPI: {
		{Version: version.MustParse("1.37"), Default: false, PreRelease: featuregate.Alpha},
	},
}

// The checkpoint subresource reaches the kubelet's checkpoint endpoint, which
// only exists with the ContainerCheckpoint gate.
var defaultFeatureGateDependencies = map[featuregate.Feature][]featuregate.Feature{
	ContainerCheckpointAPI: {kubefeatures.ContainerCheckpoint},
}

func init() {
	// Added in init so the gate exists before the component-globals registry
	// builds the --feature-gates flag and closes the gate to additions.
	utilruntime.Must(utilfeature.DefaultMutableFeatureGate.AddVersioned(defaultVersionedFeatureGates))
	utilruntime.Must(utilfeature.DefaultMutableFeatureGate.AddDependencies(defaultFeatureGateDependencies))
}
