#!/usr/bin/env bash
# Generates deepcopy, conversion, defaults and OpenAPI code for the checkpoint
# types with the Kubernetes generators pinned in go.mod's tool block.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

BOILERPLATE=hack/boilerplate.go.txt
V1_TYPES=github.com/kube-checkpoint/client-go/api/core/v1
INTERNAL=github.com/kube-checkpoint/kubernetes/pkg/apis/core
INTERNAL_V1=github.com/kube-checkpoint/kubernetes/pkg/apis/core/v1

# The generators resolve packages through the root module, whose go.mod
# replaces the staging modules with their directories.
go tool deepcopy-gen --go-header-file "${BOILERPLATE}" \
	--output-file zz_generated.deepcopy.go \
	"${V1_TYPES}" "${INTERNAL}"

go tool defaulter-gen --go-header-file "${BOILERPLATE}" \
	--output-file zz_generated.defaults.go \
	"${INTERNAL_V1}"

go tool conversion-gen --go-header-file "${BOILERPLATE}" \
	--output-file zz_generated.conversion.go \
	"${INTERNAL_V1}"

go tool openapi-gen --go-header-file "${BOILERPLATE}" \
	--output-file zz_generated.openapi.go \
	--output-model-name-file zz_generated.model_name.go \
	--output-dir pkg/generated/openapi \
	--output-pkg github.com/kube-checkpoint/kubernetes/pkg/generated/openapi \
	--readonly-pkg k8s.io/apimachinery/pkg/apis/meta/v1 \
	k8s.io/apimachinery/pkg/apis/meta/v1 "${V1_TYPES}"

gofmt -w pkg/generated/openapi staging/src/github.com/kube-checkpoint/client-go/api pkg/apis
