#!/usr/bin/env bash
# Regenerates the replace block of go.mod from the go.mod of the k8s.io/kubernetes
# release this fork builds on: every staging module k8s.io/kubernetes replaces with
# ./staging/src/k8s.io/X is pinned here to its published v0.<minor>.<patch> tag.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

KUBE_VERSION=${KUBE_VERSION:-$(sed -n 's/^KUBE_VERSION[ ?:]*=[ ]*//p' Makefile)}
STAGING_VERSION="v0.${KUBE_VERSION#v1.}"

source "${ROOT}/hack/lib/staging.sh"
modules=$(staging_modules "${KUBE_VERSION}")

block=$(
	echo "// BEGIN generated staging replaces (hack/update-gomod.sh from k8s.io/kubernetes@${KUBE_VERSION})"
	echo "replace ("
	for m in ${modules}; do printf '\t%s => %s %s\n' "${m}" "${m}" "${STAGING_VERSION}"; done
	echo ")"
	echo "// END generated staging replaces"
)
# Replace the previously generated block where it stands, or append one.
if grep -q '^// BEGIN generated staging replaces' go.mod; then
	BLOCK="${block}" awk '
		/^\/\/ BEGIN generated staging replaces/ { print ENVIRON["BLOCK"]; skip = 1; next }
		/^\/\/ END generated staging replaces/ { skip = 0; next }
		!skip { print }
	' go.mod > go.mod.new
	mv go.mod.new go.mod
else
	printf '\n%s\n' "${block}" >> go.mod
fi
go mod edit -fmt
