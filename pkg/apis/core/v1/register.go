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
	checkpointv1 "github.com/kube-checkpoint/client-go/api/core/v1"
)

var (
	localSchemeBuilder = &checkpointv1.SchemeBuilder
	// AddToScheme adds the v1 checkpoint types with their conversions and
	// defaults to a scheme.
	AddToScheme = localSchemeBuilder.AddToScheme
)

func init() {
	// We only register manually written functions here. The registration of
	// the generated functions takes place in the generated files.
	localSchemeBuilder.Register(RegisterDefaults)
}
