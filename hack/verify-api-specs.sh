#!/usr/bin/env bash
# Fails when api/ differs from what hack/update-api-specs.sh writes now.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "${TMP}"' EXIT

"${ROOT}/hack/update-api-specs.sh" "${TMP}/api"
if ! diff -r "${ROOT}/api" "${TMP}/api" > "${TMP}/diff"; then
	head -n 100 "${TMP}/diff" >&2
	echo "api/ is stale: run hack/update-api-specs.sh and commit the result" >&2
	exit 1
fi
