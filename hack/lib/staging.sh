#!/usr/bin/env bash
# staging_modules prints the staging modules that k8s.io/kubernetes@VERSION's
# own go.mod replaces with ./staging/src/k8s.io/X, one a line: what a module
# requiring that release pins to the published v0.<minor>.<patch> tags
# (hack/update-gomod.sh for this repository, install-node-deps.sh for the
# kubelets of other releases).
staging_modules() { # version
	local modfile
	modfile=$(go mod download -json "k8s.io/kubernetes@$1" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
	[[ -f "${modfile}" ]] || { echo "cannot download k8s.io/kubernetes@$1" >&2; return 1; }
	sed -n 's#^\t\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/.*#\1#p' "${modfile}"
}
