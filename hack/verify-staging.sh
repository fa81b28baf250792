#!/usr/bin/env bash
# The staging modules are published for anyone to `go get`: they must not
# depend on k8s.io/kubernetes, and their go.mod/go.sum must be tidy.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
status=0
for dir in "${ROOT}"/staging/src/github.com/kube-checkpoint/*/; do
	module=$(cd "${dir}" && go list -m)
	if (cd "${dir}" && go list -m all) | grep -q '^k8s.io/kubernetes '; then
		echo "${module} depends on k8s.io/kubernetes" >&2
		status=1
	fi
	if ! (cd "${dir}" && go mod tidy -diff >&2); then
		echo "${module}: go.mod/go.sum are not tidy (run go mod tidy in ${dir})" >&2
		status=1
	fi
done
exit ${status}
