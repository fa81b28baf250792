#!/usr/bin/env bash
# Deletes the kind cluster of make kind-up: its node containers, their
# volumes, and the "kind" network when no other kind cluster uses it. The
# images of make kind-image stay, cached.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib/kind.sh
source "${ROOT}/hack/lib/kind.sh"

if ! docker info >/dev/null 2>&1; then
	echo "no Docker Engine answers: nothing to delete"
	exit 0
fi
if [[ -x "${KIND}" ]] && "${KIND}" get clusters 2>/dev/null | grep -qx "${KIND_CLUSTER}"; then
	"${KIND}" delete cluster --name "${KIND_CLUSTER}" --kubeconfig "${KIND_KUBECONFIG}"
fi
# kind removes the nodes and their anonymous volumes, not its network.
if docker network inspect kind >/dev/null 2>&1 &&
	[[ -z "$(docker ps -aq --filter network=kind)" ]]; then
	docker network rm kind >/dev/null
fi
rm -f "${KIND_KUBECONFIG}"
left=$(docker ps -aq --filter "label=io.x-k8s.kind.cluster=${KIND_CLUSTER}")
if [[ -n "${left}" ]]; then
	echo "containers of ${KIND_CLUSTER} left behind: ${left}" >&2
	exit 1
fi
echo "kind cluster ${KIND_CLUSTER} deleted"
