#!/usr/bin/env bash
# Runs the e2e suite (test/e2e). "hack/e2e.sh kind" (make test-e2e-kind) runs
# it on a fresh make kind-up cluster, which it deletes after. "hack/e2e.sh
# skew" (make test-e2e-skew) runs its skew specs on a fresh local-up cluster
# with one node per row of the version-skew matrix. With KUBECONFIG
# set it runs against that cluster; otherwise it brings up make local-up (NUM_NODES=2 and APISERVERS=2
# by default: two nodes, two apiservers behind haproxy),
# runs the suite inside the control plane's network namespace, runs make
# bench's program briefly on the same cluster, tears the cluster down and
# checks that nothing was left behind.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "${ROOT}/hack/lib/local-cluster.sh"

make -C "${ROOT}" --no-print-directory build images >/dev/null
go test -c -o "${BIN}/e2e.test" "${ROOT}/test/e2e"
# -ginkgo.v: every spec by name, and why a skipped one was skipped.
args=(--kube-checkpoint-bin="${BIN}" -ginkgo.no-color -ginkgo.v -ginkgo.timeout=30m ${E2E_ARGS:-})
# Each run's output is kept in _output/e2e/<name>.log; a failed run ends
# with what each failed spec said, since CI shows only the end of the output.
E2E_LOGS="${ROOT}/_output/e2e"
mkdir -p "${E2E_LOGS}"

# suite runs a command (e2e.test) with its output also in $E2E_LOGS/$1.log.
suite() { # name command...
	local log="${E2E_LOGS}/$1.log"
	shift
	"$@" 2>&1 | tee "${log}"
	return "${PIPESTATUS[0]}"
}

# failures prints what each failed spec of run $1 said.
failures() { # name
	local log="${E2E_LOGS}/$1.log"
	[[ -f ${log} ]] || return 0
	echo "what the failed specs said (${log}):" >&2
	grep -A 12 -E '^ *\[(FAILED|PANICKED|TIMEDOUT|INTERRUPTED)\] ' "${log}" | grep -v '^ *$' | head -n 120 >&2 || true
}

# local_down tells the nodes' errors when the run failed, removes the local
# cluster, checks that nothing was left behind, and exits with the run's status.
local_down() { # status what
	local status=$1 log
	if [[ ${status} -ne 0 ]]; then
		# The archives' disk, which the apiservers' 507 is judged by.
		echo "$2 failed; the nodes' disk (the apiservers keep ${DISK_RESERVE} of it free):" >&2
		df -h "${STATE}" >&2 || true
		echo "node logs:" >&2
		for log in "${LOGS}"/node*-kubelet.log "${LOGS}"/node*-containerd.log; do
			echo "--- ${log}" >&2
			grep -E '^E|level=error' "${log}" | tail -n 20 >&2 || true
		done
		# The apiservers' logs outlive the cluster, beside the run's output.
		echo "apiserver errors (their logs are kept in ${E2E_LOGS}):" >&2
		for log in "${LOGS}"/kube-apiserver*.log; do
			[[ -f ${log} ]] || continue
			cp "${log}" "${E2E_LOGS}/$2-$(basename "${log}")" || true
			echo "--- ${log}" >&2
			grep -E '^E' "${log}" | tail -n 20 >&2 || true
		done
	fi
	"${ROOT}/hack/local-down.sh"
	"${ROOT}/hack/verify-local-down.sh" || status=1
	[[ ${status} -eq 0 ]] || failures "$2"
	exit "${status}"
}

if [[ "${1:-}" == kind ]]; then
	# shellcheck source=hack/lib/kind.sh
	source "${ROOT}/hack/lib/kind.sh"
	DEMO=false "${ROOT}/hack/kind-up.sh"
	status=0
	(cd "${ROOT}/test/e2e" && suite e2e-kind "${BIN}/e2e.test" --kubeconfig="${KIND_KUBECONFIG}" --kind-cluster="${KIND_CLUSTER}" "${args[@]}") || status=$?
	if [[ ${status} -ne 0 ]]; then
		echo "e2e on kind failed; kubelet errors:" >&2
		for node in $("${KIND}" get nodes --name "${KIND_CLUSTER}"); do
			echo "--- ${node}" >&2
			docker exec "${node}" journalctl -u kubelet --no-pager 2>/dev/null | grep -E ' E[0-9]{4} ' | tail -n 20 >&2 || true
		done
	fi
	"${ROOT}/hack/kind-down.sh" || status=1
	[[ ${status} -eq 0 ]] || failures e2e-kind
	exit ${status}
fi

if [[ "${1:-}" == skew ]]; then
	# One node per row of the version-skew matrix (docs/version-skew.md), one
	# apiserver: the representative subset make test runs, every row with
	# "skew full" (make test-e2e-skew-full), or the rows SKEW_NODES names.
	rows=${SKEW_SUBSET}
	[[ "${2:-}" != full ]] || rows=${SKEW_MATRIX}
	"${ROOT}/hack/install-node-deps.sh" "checkpointctl=${CHECKPOINTCTL_VERSION}" | { grep -v '^+++' || true; }
	NODES=${SKEW_NODES:-${rows}} APISERVERS=1 DEMO=false "${ROOT}/hack/local-up.sh"
	status=0
	(cd "${ROOT}/test/e2e" && suite e2e-skew in_ns "${CP_NS}" "${BIN}/e2e.test" --kubeconfig="${KUBECONFIG_FILE}" \
		--local-up-state="${STATE}" --node-stacks="${STATE}/node-stacks" \
		--checkpointctl="$(stack_dir checkpointctl "${CHECKPOINTCTL_VERSION}")/checkpointctl" \
		"${args[@]}" -ginkgo.label-filter=Skew) || status=$?
	local_down "${status}" e2e-skew
fi

if [[ -n "${KUBECONFIG:-}" ]]; then
	cd "${ROOT}/test/e2e"
	exec "${BIN}/e2e.test" --kubeconfig="${KUBECONFIG}" "${args[@]}"
fi

NUM_NODES=${NUM_NODES:-2} APISERVERS=${APISERVERS:-2} DEMO=false "${ROOT}/hack/local-up.sh"
status=0
(cd "${ROOT}/test/e2e" && suite e2e in_ns "${CP_NS}" "${BIN}/e2e.test" --kubeconfig="${KUBECONFIG_FILE}" \
	--local-up-state="${STATE}" "${args[@]}") || status=$?
# make bench's program, briefly, on the same cluster, so that it keeps working.
if [[ ${status} -eq 0 ]]; then
	go build -o "${BIN}/bench" "${ROOT}/test/bench"
	mkdir -p "${ROOT}/_output/bench"
	in_ns "${CP_NS}" "${BIN}/bench" --kubeconfig="${KUBECONFIG_FILE}" --local-up-state="${STATE}" --crictl="${DEPS}/bin/crictl" \
		--samples=2 --concurrency=1,8 --rounds=1 --sizes=16 --size-samples=1 \
		--replica-kubeconfigs="${STATE}/kubeconfig-apiserver1,${STATE}/kubeconfig-apiserver2" \
		--out="${ROOT}/_output/bench/smoke.md" --plot="${ROOT}/_output/bench/smoke.png" || status=$?
fi
local_down "${status}" e2e
