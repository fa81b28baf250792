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

// Package v1 converts and defaults the core/v1 checkpoint types of
// github.com/kube-checkpoint/client-go/api/core/v1, as
// k8s.io/kubernetes/pkg/apis/core/v1 does for k8s.io/api/core/v1.
//
// +k8s:conversion-gen=github.com/kube-checkpoint/kubernetes/pkg/apis/core
// +k8s:conversion-gen-external-types=github.com/kube-checkpoint/client-go/api/core/v1
// +k8s:defaulter-gen=TypeMeta
// +k8s:defaulter-gen-input=github.com/kube-checkpoint/client-go/api/core/v1
package v1
