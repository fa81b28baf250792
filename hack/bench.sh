#!/usr/bin/env bash
# make bench: measures pods/checkpoint on a make local-up cluster (test/bench)
# the apiserver's idle memory (make bench-rss) and a simulated fleet (make
# bench-fleet), writes BENCHMARKS.md, docs/bench-time-vs-rss.png and
# docs/bench-fleet.md, and prints the summary line last:
#   ratio_vs_nodes_proxy=<a/b, the kubelet's time made equal> ratio_vs_nodes_proxy_raw=<a/b median>
#     ratio_vs_kubelet=<a/c median> concurrent32_errors=<n>
#     throughput32_ratio_one=<n>   (32 pods over the best level, through one apiserver)
#     own_ms=<apiserver's own time, median> get_ms=<a GET of the pod, median>
#     ha_added_ms=<n> throughput32_ratio=<n> writes_per_checkpoint=<n>
#     summary_added_ms=<n>   (with two apiservers)
#     missed=<the figures that missed their targets, or none>
# It uses a running local-up cluster (re-importing the test images into its
# nodes) or brings one up (NUM_NODES=1 APISERVERS=2) and tears it down
# afterwards. With two apiservers it adds their section.
# BENCH_ARGS are passed to test/bench (see go run ./test/bench -h), for example
#   make bench BENCH_ARGS="--samples 5 --sizes 16,64" RSS_SAMPLES=1
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "${ROOT}/hack/lib/local-cluster.sh"

OUT_DIR="${ROOT}/_output/bench"
mkdir -p "${OUT_DIR}"
make -C "${ROOT}" --no-print-directory build images >/dev/null
go build -o "${BIN}/bench" "${ROOT}/test/bench"

# Idle memory first, before the cluster's pods load the machine.
echo "+++ [bench] idle apiserver memory, gate off and on (make bench-rss, RSS_SAMPLES=${RSS_SAMPLES:-3})"
make -C "${ROOT}" --no-print-directory bench-rss RSS_SAMPLES="${RSS_SAMPLES:-3}" | tee "${OUT_DIR}/idle-rss.txt"
echo "+++ [bench] a simulated fleet through two apiservers (make bench-fleet)"
make -C "${ROOT}" --no-print-directory bench-fleet | tee "${OUT_DIR}/fleet.txt"

started=false
if [[ -f "${KUBECONFIG_FILE}" ]] && kubectl get --raw /readyz >/dev/null 2>&1; then
	echo "+++ [bench] using the running local-up cluster"
	for dir in "${STATE}"/node*/; do
		import_images "${dir%/}"
	done
else
	echo "+++ [bench] bringing up a local cluster"
	NUM_NODES=1 APISERVERS=${APISERVERS:-2} DEMO=false "${ROOT}/hack/local-up.sh"
	started=true
fi

replicas=()
[[ -f "${STATE}/kubeconfig-apiserver2" ]] && replicas=(--replica-kubeconfigs="${STATE}/kubeconfig-apiserver1,${STATE}/kubeconfig-apiserver2")
status=0
(cd "${ROOT}" && in_ns "${CP_NS}" "${BIN}/bench" --kubeconfig="${KUBECONFIG_FILE}" --local-up-state="${STATE}" \
	--crictl="${DEPS}/bin/crictl" --idle-rss="${OUT_DIR}/idle-rss.txt" --fleet="${ROOT}/docs/bench-fleet.md" "${replicas[@]}" \
	--out="${ROOT}/BENCHMARKS.md" --plot="${ROOT}/docs/bench-time-vs-rss.png" ${BENCH_ARGS:-}) | tee "${OUT_DIR}/bench.log" || status=$?
if [[ "${started}" == true ]]; then
	"${ROOT}/hack/local-down.sh"
fi
# The summary stays the last line.
tail -n 1 "${OUT_DIR}/bench.log"
exit ${status}
