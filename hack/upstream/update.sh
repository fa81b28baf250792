#!/usr/bin/env bash
# Writes the upstream patch series hack/upstream/series/*.patch: the change of
# this repository as commits on kubernetes/kubernetes v1.37.2, following
# hack/upstream/series.txt. The tree is assembled from the Go module cache
# (assemble.sh); files of this repository are copied into it through
# hack/upstream/rewrite, the hunks into upstream files come from
# hack/upstream/patches/, and generated code from upstream's own generators,
# run in the tree with the flags of upstream's hack/update-codegen.sh.
#
# usage: hack/upstream/update.sh [--check] [--tree DIR]
#   --check   write the series into a temporary directory and fail when it
#             differs from hack/upstream/series (make verify-upstream)
#   --tree    where to assemble (default _output/upstream/series-tree)
# A patch named in series.txt that does not exist yet stops the run with the
# tree left as it is, so that the hunk can be made there: edit, then
# `git diff > hack/upstream/patches/NAME.patch`.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${ROOT}"

check=false
tree=${ROOT}/_output/upstream/series-tree
while [[ $# -gt 0 ]]; do
	case $1 in
	--check) check=true ;;
	--tree) tree=$(realpath -m "$2"); shift ;;
	*) echo "usage: $0 [--check] [--tree DIR]" >&2; exit 2 ;;
	esac
	shift
done

log() { echo "+++ [upstream] $*"; }

hack/upstream/assemble.sh "${tree}"
mkdir -p _output/bin
go build -o _output/bin/upstream-rewrite ./hack/upstream/rewrite
REWRITE=${ROOT}/_output/bin/upstream-rewrite

# Every commit of the series has the same author and date, so that writing
# the series twice gives the same bytes.
export GIT_AUTHOR_NAME="kube-checkpoint" GIT_AUTHOR_EMAIL="kube-checkpoint@users.noreply.github.com"
export GIT_COMMITTER_NAME="${GIT_AUTHOR_NAME}" GIT_COMMITTER_EMAIL="${GIT_AUTHOR_EMAIL}"
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

upstream_path() {
	case $1 in
	staging/src/github.com/kube-checkpoint/*) echo "staging/src/k8s.io/${1#staging/src/github.com/kube-checkpoint/}" ;;
	*) echo "$1" ;;
	esac
}

# The import path of an upstream directory of the tree.
upstream_pkg() {
	case $1 in
	staging/src/*) echo "${1#staging/src/}" ;;
	*) echo "k8s.io/kubernetes/$1" ;;
	esac
}

do_copy() {
	local ours=$1 up=${2:-$(upstream_path "$1")} name=${3:-}
	if [[ -d "${ours}" ]]; then
		mkdir -p "${tree}/${up}"
		cp -r "${ours}/." "${tree}/${up}/"
		return
	fi
	mkdir -p "${tree}/$(dirname "${up}")"
	if [[ "${ours}" == *.go ]]; then
		# A file joining an upstream package takes its name and leaves the
		# package's doc comment to it.
		local existing
		existing=$(find "${tree}/$(dirname "${up}")" -maxdepth 1 -name '*.go' ! -name '*_test.go' ! -path "${tree}/${up}" | head -1)
		if [[ -z "${name}" && -n "${existing}" && "${ours}" != *_test.go ]]; then
			name=$(sed -n 's/^package \([a-z0-9_]*\).*/\1/p' "${existing}" | head -1)
		fi
		"${REWRITE}" -pkg "$(upstream_pkg "$(dirname "${up}")")" ${name:+-name "${name}"} "${ours}" "${tree}/${up}"
	else
		cp "${ours}" "${tree}/${up}"
	fi
}

# Upstream's generators, built from the tree's own code-generator and
# kube-openapi, with the flags of its hack/update-codegen.sh; only the
# packages the series touches are given to those that work per package.
BOILERPLATE=hack/boilerplate/boilerplate.generatego.txt
do_generate() {
	(
		cd "${tree}"
		export GOBIN="${tree}/_output/bin" GOTOOLCHAIN=local
		export PATH="${GOBIN}:${PATH}"
		for what in "$@"; do
			log "generate ${what}"
			case ${what} in
			deepcopy)
				go install k8s.io/code-generator/cmd/deepcopy-gen
				deepcopy-gen --go-header-file "${BOILERPLATE}" --output-file zz_generated.deepcopy.go \
					--lint-rules=known-tags-only,require-explicit-disablement \
					./staging/src/k8s.io/api/core/v1 ./pkg/apis/core
				;;
			conversion)
				go install k8s.io/code-generator/cmd/conversion-gen
				conversion-gen --go-header-file "${BOILERPLATE}" --output-file zz_generated.conversion.go \
					--lint-rules=known-tags-only,require-explicit-disablement \
					--extra-peer-dirs k8s.io/kubernetes/pkg/apis/core --extra-peer-dirs k8s.io/kubernetes/pkg/apis/core/v1 \
					--extra-peer-dirs k8s.io/api/core/v1 \
					./pkg/apis/core/v1
				;;
			swagger)
				# upstream's own gen_types_swagger_doc, taken from its script
				go install ./cmd/genswaggertypedocs
				eval "$(sed -n '/^function gen_types_swagger_doc() {$/,/^}$/p' hack/update-codegen.sh)"
				BOILERPLATE_FILENAME=${BOILERPLATE} DBG_CODEGEN=0 gen_types_swagger_doc core/v1 staging/src/k8s.io/api/core/v1
				;;
			protobuf)
				if ! command -v protoc >/dev/null; then
					log "apt-get install protobuf-compiler (protoc)"
					apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends protobuf-compiler >/dev/null
				fi
				go install k8s.io/code-generator/cmd/go-to-protobuf k8s.io/code-generator/cmd/go-to-protobuf/protoc-gen-gogo
				# goimports, which upstream builds from hack/tools (not in the module zip)
				(cd "${ROOT}" && go build -o "${GOBIN}/goimports" golang.org/x/tools/cmd/goimports)
				# gogo.proto, which upstream reads from vendor/, from the module cache
				local gogo
				gogo=$(go list -m -f '{{.Dir}}' github.com/gogo/protobuf)
				mkdir -p _output/proto/github.com/gogo
				ln -sfn "${gogo}" _output/proto/github.com/gogo/protobuf
				go-to-protobuf --go-header-file "${tree}/${BOILERPLATE}" \
					--output-dir="${tree}/staging/src" --proto-import="${tree}/staging/src" \
					--proto-import="${tree}/_output/proto" --proto-import="${tree}/third_party/protobuf" \
					--packages=k8s.io/api/core/v1 \
					--apimachinery-packages=-k8s.io/apimachinery/pkg/util/intstr,-k8s.io/apimachinery/pkg/api/resource,-k8s.io/apimachinery/pkg/runtime/schema,-k8s.io/apimachinery/pkg/runtime,-k8s.io/apimachinery/pkg/apis/meta/v1,-k8s.io/apimachinery/pkg/apis/meta/v1beta1,-k8s.io/apimachinery/pkg/apis/testapigroup/v1 \
					2> >(grep -v '^[0-9/]* [0-9:]* protoc ' >&2)
				;;
			openapi)
				# every package with an openapi tag, as upstream's codegen::openapi
				# collects them; the known rule violations must stay as they are
				go install k8s.io/kube-openapi/cmd/openapi-gen
				local pkgs
				pkgs=$(git grep --untracked -l -e '^// *+k8s:' -- ':!:*/testdata/*' ':(glob)**/*.go' |
					grep -v -e '^staging/src/k8s.io/code-generator/' -e '^staging/src/k8s.io/sample-apiserver/' -e '^staging/src/k8s.io/sample-controller/' |
					xargs grep -l '+k8s:openapi' | xargs -n1 dirname | sort -u | sed 's|^|./|')
				mkdir -p _output
				# shellcheck disable=SC2086 # one argument per package
				openapi-gen --go-header-file "${BOILERPLATE}" --output-file zz_generated.openapi.go \
					--output-dir pkg/generated/openapi --output-pkg k8s.io/kubernetes/pkg/generated/openapi \
					--report-filename _output/api_violations.report \
					--output-model-name-file zz_generated.model_name.go ${pkgs}
				diff -u api/api-rules/violation_exceptions.list _output/api_violations.report
				;;
			rbac-fixtures)
				# the bootstrap policy's own fixture update (the run that writes
				# them fails by design; the next must pass)
				UPDATE_BOOTSTRAP_POLICY_FIXTURE_DATA=true go test ./plugin/pkg/auth/authorizer/rbac/bootstrappolicy >/dev/null || true
				go test ./plugin/pkg/auth/authorizer/rbac/bootstrappolicy >/dev/null
				;;
			*) echo "unknown generator ${what}" >&2; exit 1 ;;
			esac
		done
	)
}

subject=""
body=""
commit_pending() {
	[[ -n "${subject}" ]] || return 0
	(cd "${tree}" && git add -A && git commit -q --no-gpg-sign -F - <<<"${subject}${body:+

${body}}")
	log "committed: ${subject}"
	subject=""
	body=""
}

while IFS= read -r line; do
	case ${line} in
	'' | '#'*) continue ;;
	'|' | '| '*)
		l=${line#|}
		body+="${body:+
}${l# }"
		continue
		;;
	esac
	read -r verb args <<<"${line}"
	case ${verb} in
	commit)
		commit_pending
		read -r _slug subject <<<"${args}"
		;;
	copy) do_copy ${args} ;;
	insert)
		read -r ours up typ <<<"${args}"
		"${REWRITE}" -insert-after "${typ}" "${ours}" "${tree}/${up}"
		;;
	patch)
		p=hack/upstream/patches/${args}.patch
		if [[ ! -f "${p}" ]]; then
			echo "${p} does not exist: the tree ${tree} stops before it; make the hunk there and write it with git diff" >&2
			exit 3
		fi
		(cd "${tree}" && git apply --whitespace=nowarn "${ROOT}/${p}")
		;;
	generate) do_generate ${args} ;;
	*) echo "series.txt: unknown line: ${line}" >&2; exit 1 ;;
	esac
done < hack/upstream/series.txt
commit_pending

out=${ROOT}/hack/upstream/series
if ${check}; then
	out=$(mktemp -d)
	trap 'rm -rf "${out}"' EXIT
fi
mkdir -p "${out}"
rm -f "${out}"/*.patch
(cd "${tree}" && git format-patch -q --zero-commit --no-signature -o "${out}" v1.37.2)
if ${check}; then
	if ! diff -r -u hack/upstream/series "${out}"; then
		echo "hack/upstream/series is stale: run hack/upstream/update.sh" >&2
		exit 1
	fi
	log "hack/upstream/series is current"
fi
log "$(ls "${out}" | wc -l) patches in ${out}"
