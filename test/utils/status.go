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

// Package utils holds what the integration and e2e tests share.
package utils

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReasonOf is the reason pods/checkpoint gives with each status code of its
// error table.
var ReasonOf = map[int32]metav1.StatusReason{
	400: metav1.StatusReasonBadRequest,
	403: metav1.StatusReasonForbidden,
	404: metav1.StatusReasonNotFound,
	409: metav1.StatusReasonConflict,
	429: metav1.StatusReasonTooManyRequests,
	500: metav1.StatusReasonInternalError,
	501: "NotImplemented",
	503: metav1.StatusReasonServiceUnavailable,
	504: metav1.StatusReasonTimeout,
	507: "InsufficientStorage",
}
