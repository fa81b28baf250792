#!/usr/bin/env bash
# make verify-upstream: proves the upstream patch series in hack/upstream/series
# is current and works on kubernetes/kubernetes v1.37.2.
#
#  1. update.sh --check: writing the series again from this repository gives
#     the same patches (no hand-kept copy has drifted).
#  2. A fresh v1.37.2 tree from the Go module cache takes every patch with
#     `git apply --check`, then `git apply`, in order.
#  3. That tree builds cmd/kube-apiserver and cmd/kubectl, gofmt finds
#     nothing to change in the files the series touches, and the unit tests
#     of every package the series touches pass (counts printed).
#  4. The kube-apiserver built there serves exactly the api/ the series
#     writes (hack/update-api-specs.sh run against that binary).
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${ROOT}"
export PATH="/usr/local/go/bin:${PATH}"

log() { echo "+++ [verify-upstream] $*"; }
step_start=$(date +%s)
step() {
	local now
	now=$(date +%s)
	log "$* ($((now - step_start)) s so far)"
}

OUT=${ROOT}/_output/upstream
step "1/4 the series is current"
hack/upstream/update.sh --check --tree "${OUT}/series-tree"

step "2/4 the series applies to v1.37.2"
tree=${OUT}/kubernetes
hack/upstream/assemble.sh "${tree}" >/dev/null 2>&1
for p in hack/upstream/series/*.patch; do
	(cd "${tree}" && git apply --check "${ROOT}/${p}" && git apply "${ROOT}/${p}")
	log "applied $(basename "${p}")"
done
cd "${tree}"
git add -A
files=$(git diff --cached --name-only v1.37.2)
log "the series changes $(wc -l <<<"${files}") files: $(git diff --cached --numstat v1.37.2 | awk '{a += $1; d += $2} END {print "+" a " lines, -" d}')"

step "3/4 build, gofmt and unit tests in the tree"
export GOTOOLCHAIN=local
go build -o "${OUT}/bin/kube-apiserver" ./cmd/kube-apiserver
go build -o "${OUT}/bin/kubectl" ./cmd/kubectl
unformatted=$(grep '\.go$' <<<"${files}" | xargs gofmt -l)
if [[ -n "${unformatted}" ]]; then
	echo "gofmt would change: ${unformatted}" >&2
	exit 1
fi
"${OUT}/bin/kubectl" alpha checkpoint --help | grep -q 'kubectl alpha checkpoint' || {
	echo "kubectl alpha checkpoint --help does not describe the command" >&2
	exit 1
}
# Every Go package the series touches, and the package whose testdata it
# changes (the compatibility fixtures belong to k8s.io/api's tests).
pkgs=$(sed -n -e 's|/testdata/.*||' -e '/\.go$/s|/[^/]*$||p' -e '/^staging\/src\/k8s.io\/api$/p' <<<"${files}" |
	sort -u | while read -r dir; do
		[[ -n "$(find "${dir}" -maxdepth 1 -name '*.go' -print -quit)" ]] || continue
		case ${dir} in
		staging/src/*) echo "${dir#staging/src/}" ;;
		*) echo "k8s.io/kubernetes/${dir}" ;;
		esac
	done)
log "testing $(wc -l <<<"${pkgs}") packages: $(tr '\n' ' ' <<<"${pkgs}")"
# shellcheck disable=SC2086 # one argument per package
go test -count=1 -v ${pkgs} >"${OUT}/unit.log" 2>&1 || {
	grep -E '^(--- FAIL|FAIL|panic)' "${OUT}/unit.log" >&2
	echo "unit tests failed in the upstream tree; the log: ${OUT}/unit.log" >&2
	exit 1
}
grep -E '^(ok|FAIL|\?) ' "${OUT}/unit.log"
log "$(grep -c '^ok ' "${OUT}/unit.log") packages passed: $(grep -c '^--- PASS' "${OUT}/unit.log") tests ($(grep -c '^ *--- PASS' "${OUT}/unit.log") with their subtests), $(grep -c '^--- SKIP' "${OUT}/unit.log") skipped"

step "4/4 the apiserver built from the series serves the series' api/"
specs=$(mktemp -d)
trap 'rm -rf "${specs}"' EXIT
KUBE_APISERVER="${OUT}/bin/kube-apiserver" "${ROOT}/hack/update-api-specs.sh" "${specs}" >/dev/null
for d in openapi-spec discovery; do
	if ! diff -r "${tree}/api/${d}" "${specs}/${d}" >"${specs}/diff"; then
		head -50 "${specs}/diff" >&2
		echo "the kube-apiserver built from the series serves another api/${d} than the series writes" >&2
		exit 1
	fi
done
step "passed"
