#!/usr/bin/env bash
# Fails when the generated code differs from what hack/update-codegen.sh and
# hack/update-gomod.sh produce now.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

TMP=$(mktemp -d)
trap 'rm -rf "${TMP}"' EXIT

# Compare in a copy so a failing verify leaves the work tree as it was.
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "${TMP}"
(cd "${TMP}" && hack/update-gomod.sh && hack/update-codegen.sh)

status=0
for f in go.mod $(cd "${TMP}" && find . -name 'zz_generated.*.go' -o -name 'types_swagger_doc_generated.go' -o -name 'generated.pb.go' -o -name 'generated.proto' | sed 's#^\./##'); do
	if ! diff -u "${f}" "${TMP}/${f}" >/dev/null 2>&1; then
		echo "stale generated file: ${f}" >&2
		diff -u "${f}" "${TMP}/${f}" >&2 || true
		status=1
	fi
done
if [[ ${status} -ne 0 ]]; then
	echo "run hack/update-codegen.sh (and hack/update-gomod.sh) and commit the result" >&2
fi
exit ${status}
