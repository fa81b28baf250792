#!/usr/bin/env bash
# Writes api/ as kubernetes/kubernetes keeps it, from the running patched
# kube-apiserver: api/openapi-spec/swagger.json, api/openapi-spec/v3/*.json and
# api/discovery/*.json, fetched with upstream's hack/update-openapi-spec.sh
# flags (every alpha and beta gate, so ContainerCheckpointAPI too, and every
# API), and api/api-rules/violation_exceptions.list from openapi-gen's rule
# report. A diff of api/ against upstream v1.37.2's is the API change
# (test/integration/checkpoint compares them).
#
#   hack/update-api-specs.sh [OUT_DIR]     (default: api/ of this repository)
#   KUBE_APISERVER=PATH serves from another kube-apiserver binary (make
#   verify-upstream: the one built from the upstream patch series).
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${1:-"${ROOT}/api"}
BIN="${ROOT}/_output/bin"
export PATH="/usr/local/go/bin:${PATH}"

for tool in jq curl openssl; do
	if ! command -v "${tool}" >/dev/null; then
		echo "+++ [api-specs] apt-get install ${tool}"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool}" >/dev/null
	fi
done
if [[ -z "${KUBE_APISERVER:-}" ]]; then
	make -C "${ROOT}" --no-print-directory kube-apiserver >/dev/null
fi
KUBE_APISERVER=${KUBE_APISERVER:-${BIN}/kube-apiserver}
go build -o "${BIN}/etcd" go.etcd.io/etcd/server/v3

# The server runs exactly as upstream's script runs it (advertising
# 10.10.10.10, serving on 8050, which discovery reports), inside a network
# namespace of this script's own that holds that address: nothing it might
# send leaves the namespace, and no port of the machine is taken.
NETNS=kc-api-specs-$$
TMP=$(mktemp -d)
PIDS=()
cleanup() {
	# The apiserver first: its shutdown still talks to etcd.
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill "${PIDS[i]}" 2>/dev/null || true
		timeout 30 tail --pid="${PIDS[i]}" -f /dev/null 2>/dev/null || kill -9 "${PIDS[i]}" 2>/dev/null || true
	done
	ip netns delete "${NETNS}" 2>/dev/null || true
	rm -rf "${TMP}"
}
trap cleanup EXIT
ip netns add "${NETNS}"
ip -n "${NETNS}" link set lo up
ip -n "${NETNS}" addr add 10.10.10.10/32 dev lo
in_ns() { nsenter --net="/var/run/netns/${NETNS}" "$@"; }

ETCD_PORT=2379
API_PORT=8050
nsenter --net="/var/run/netns/${NETNS}" "${BIN}/etcd" --data-dir="${TMP}/etcd" --name=api-specs \
	--listen-client-urls="http://127.0.0.1:${ETCD_PORT}" --advertise-client-urls="http://127.0.0.1:${ETCD_PORT}" \
	--listen-peer-urls="http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls="http://127.0.0.1:$((ETCD_PORT + 1))" \
	--initial-cluster="api-specs=http://127.0.0.1:$((ETCD_PORT + 1))" --listen-metrics-urls= >"${TMP}/etcd.log" 2>&1 &
PIDS+=($!)

echo "dummy_token,admin,admin" > "${TMP}/tokenauth.csv"
openssl genrsa -out "${TMP}/sa.key" 2048 2>/dev/null
# upstream's hack/update-openapi-spec.sh flags.
KUBE_APISERVER_STRICT_REMOVED_API_HANDLING_IN_ALPHA=true nsenter --net="/var/run/netns/${NETNS}" "${KUBE_APISERVER}" \
	--bind-address=127.0.0.1 --secure-port="${API_PORT}" \
	--etcd-servers="http://127.0.0.1:${ETCD_PORT}" \
	--advertise-address=10.10.10.10 \
	--cert-dir="${TMP}/certs" \
	--feature-gates=AllAlpha=true,AllBeta=true,OpenAPIEnums=false \
	--runtime-config="api/all=true" \
	--token-auth-file="${TMP}/tokenauth.csv" \
	--authorization-mode=RBAC \
	--service-account-key-file="${TMP}/sa.key" \
	--service-account-lookup=true \
	--service-account-issuer="https://kubernetes.default.svc" \
	--service-account-signing-key-file="${TMP}/sa.key" \
	--enable-logs-handler=true \
	--service-cluster-ip-range="10.0.0.0/24" >"${TMP}/apiserver.log" 2>&1 &
PIDS+=($!)

get() { # path [accept]
	in_ns curl -kfsS -H 'Authorization: Bearer dummy_token' ${2:+-H "Accept: $2"} "https://127.0.0.1:${API_PORT}$1"
}
for _ in $(seq 1 120); do
	get /healthz >/dev/null 2>&1 && break
	sleep 1
done
if ! get /healthz >/dev/null 2>&1; then
	echo "kube-apiserver did not become healthy; its log:" >&2
	tail -20 "${TMP}/apiserver.log" >&2
	exit 1
fi

rm -rf "${OUT}/discovery" "${OUT}/openapi-spec"
mkdir -p "${OUT}/discovery" "${OUT}/openapi-spec/v3" "${OUT}/api-rules"
get /apis 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' | jq -S . > "${OUT}/discovery/aggregated_v2.json"
get /openapi/v2 | jq -S '.info.version="unversioned"' > "${OUT}/openapi-spec/swagger.json"
get /openapi/v3 | jq -r '.paths | to_entries | .[].key' | while read -r group; do
	file="${group}_openapi.json"
	get "/openapi/v3/${group}" | jq -S '.info.version="unversioned"' > "${OUT}/openapi-spec/v3/${file//\//__}"
	if [[ "${group}" == api* ]]; then
		file="${group}.json"
		get "/${group}" | jq -S . > "${OUT}/discovery/${file//\//__}"
	fi
done
# README.md files as upstream keeps them beside the specs.
cp "$(cd "${ROOT}" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/api/openapi-spec/README.md" "${OUT}/openapi-spec/README.md"
chmod u+w "${OUT}/openapi-spec/README.md"

# openapi-gen's API rule violations of the types this server's OpenAPI is
# generated from here (upstream's meta/v1 and the checkpoint types).
(cd "${ROOT}" && go tool openapi-gen --go-header-file hack/boilerplate.go.txt \
	--report-filename "${OUT}/api-rules/violation_exceptions.list" \
	--output-file zz_generated.openapi.go --output-model-name-file zz_generated.model_name.go \
	--output-dir "${TMP}/openapi" --output-pkg github.com/kube-checkpoint/kubernetes/pkg/generated/openapi \
	--readonly-pkg k8s.io/apimachinery/pkg/apis/meta/v1 \
	k8s.io/apimachinery/pkg/apis/meta/v1 github.com/kube-checkpoint/client-go/api/core/v1 2>/dev/null)
