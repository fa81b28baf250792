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

// Package validation validates the internal checkpoint types.
package validation

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/kube-checkpoint/kubernetes/pkg/apis/core"
)

// ValidatePodCheckpointOptions checks the options of a checkpoint call against
// the server's maximum timeout.
func ValidatePodCheckpointOptions(opts *core.PodCheckpointOptions, maxTimeout time.Duration) field.ErrorList {
	allErrs := field.ErrorList{}
	if opts.Container != "" {
		for _, msg := range validation.IsDNS1123Label(opts.Container) {
			allErrs = append(allErrs, field.Invalid(field.NewPath("container"), opts.Container, msg))
		}
	}
	if opts.TimeoutSeconds != nil {
		timeoutPath := field.NewPath("timeoutSeconds")
		maxSeconds := int64(maxTimeout / time.Second)
		switch t := *opts.TimeoutSeconds; {
		case t <= 0:
			allErrs = append(allErrs, field.Invalid(timeoutPath, t, "must be greater than 0"))
		case t > maxSeconds:
			allErrs = append(allErrs, field.Invalid(timeoutPath, t, fmt.Sprintf("must be at most %d (kube-apiserver --checkpoint-max-timeout)", maxSeconds)))
		}
	}
	return allErrs
}
