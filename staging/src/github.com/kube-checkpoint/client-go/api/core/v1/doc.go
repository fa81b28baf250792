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

// Package v1 holds the core/v1 types of the pods/checkpoint subresource
// (KEP-5091). They belong to the core API group, beside k8s.io/api/core/v1,
// and carry the same OpenAPI model package so that served OpenAPI reads as it
// would upstream.
//
// +k8s:openapi-gen=true
// +k8s:deepcopy-gen=package
// +k8s:openapi-model-package=io.k8s.api.core.v1
// +groupName=
package v1 // import "github.com/kube-checkpoint/client-go/api/core/v1"
