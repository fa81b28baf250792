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

package controlplane

import (
	"net/http"

	apirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"

	generatedopenapi "github.com/kube-checkpoint/kubernetes/pkg/generated/openapi"
)

// addCheckpointToConfig prepares the configs that app.NewConfig built for a
// server that serves pods/checkpoint.
func addCheckpointToConfig(c *app.Config) {
	for _, generic := range []*genericapiserver.Config{
		c.KubeAPIs.ControlPlane.Generic,
		&c.ApiExtensions.GenericConfig.Config,
		&c.Aggregator.GenericConfig.Config,
	} {
		// Requests pass the handler chain of the aggregator, the outermost
		// server, but every server gets the same check so none of them applies
		// --request-timeout or the in-flight limits to a checkpoint.
		generic.LongRunningFunc = withCheckpointLongRunning(generic.LongRunningFunc)
	}
	generic := c.KubeAPIs.ControlPlane.Generic
	generic.OpenAPIConfig.GetDefinitions = withCheckpointDefinitions(generic.OpenAPIConfig.GetDefinitions)
	v3 := generic.OpenAPIV3Config
	v3.GetDefinitions = withCheckpointDefinitions(v3.GetDefinitions)
	if v3.Definitions != nil {
		// genericapiserver.DefaultOpenAPIV3Config resolved the models once,
		// with references into #/components/schemas; resolve ours the same way.
		addMissingDefinitions(v3.Definitions, generatedopenapi.GetOpenAPIDefinitions(func(name string) spec.Ref {
			defName, _ := v3.GetDefinitionName(name)
			return spec.MustCreateRef("#/components/schemas/" + common.EscapeJsonPointer(defName))
		}))
	}
}

// withCheckpointLongRunning marks pods/checkpoint long-running: a checkpoint is
// bounded by its own timeoutSeconds, not by --request-timeout.
func withCheckpointLongRunning(upstream apirequest.LongRunningRequestCheck) apirequest.LongRunningRequestCheck {
	return func(r *http.Request, requestInfo *apirequest.RequestInfo) bool {
		if isCheckpointRequest(requestInfo) {
			return true
		}
		return upstream(r, requestInfo)
	}
}

func isCheckpointRequest(requestInfo *apirequest.RequestInfo) bool {
	return requestInfo != nil && requestInfo.IsResourceRequest &&
		requestInfo.APIGroup == "" && requestInfo.Resource == "pods" && requestInfo.Subresource == "checkpoint"
}

// withCheckpointDefinitions adds the OpenAPI models of the checkpoint types to
// upstream's. Upstream's models win where both define one (the meta/v1 types
// the checkpoint types refer to).
func withCheckpointDefinitions(upstream common.GetOpenAPIDefinitions) common.GetOpenAPIDefinitions {
	return func(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
		defs := upstream(ref)
		addMissingDefinitions(defs, generatedopenapi.GetOpenAPIDefinitions(ref))
		return defs
	}
}

func addMissingDefinitions(defs, ours map[string]common.OpenAPIDefinition) {
	for name, def := range ours {
		if _, ok := defs[name]; !ok {
			defs[name] = def
		}
	}
}
