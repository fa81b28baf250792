#!/usr/bin/env bash
# Removes everything hack/local-up.sh made: its processes (and every container
# they started), mounts, network namespaces, cgroups and state directory.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "${ROOT}/hack/lib/local-cluster.sh"

stop_pid() { # pidfile
	local pid
	pid=$(cat "$1" 2>/dev/null) || return 0
	[[ -n "${pid}" && -d "/proc/${pid}" ]] || return 0
	kill "${pid}" 2>/dev/null || true
	for _ in $(seq 1 50); do
		[[ -d "/proc/${pid}" ]] || return 0
		sleep 0.2
	done
	kill -9 "${pid}" 2>/dev/null || true
}

nodes=()
for dir in "${STATE}"/node*/; do
	[[ -d "${dir}" ]] && nodes+=("$(basename "${dir}")")
done

# Kubelets first, so that nothing restarts the pods removed next.
for node in "${nodes[@]}"; do
	stop_pid "${PIDS}/${node}-kubelet"
done
for node in "${nodes[@]}"; do
	sock="${STATE}/${node}/containerd.sock"
	if [[ -S "${sock}" ]]; then
		timeout 60 "${DEPS}/bin/crictl" --runtime-endpoint "unix://${sock}" rmp -fa >/dev/null 2>&1 || true
	fi
	stop_pid "${PIDS}/${node}-containerd"
	pkill -9 -f -- "-address ${sock}" 2>/dev/null || true
	# Whatever still runs in the node's cgroups (a container left frozen by a
	# checkpoint included) is thawed and killed.
	for hierarchy in /sys/fs/cgroup/*/; do
		[[ -d "${hierarchy}${node}" ]] || continue
		find "${hierarchy}${node}" -name freezer.state -exec sh -c 'echo THAWED > "$1"' _ {} \; 2>/dev/null || true
		find "${hierarchy}${node}" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -9 2>/dev/null || true
	done
done
apiservers=()
for pidfile in "${PIDS}"/kube-apiserver*; do
	[[ -f "${pidfile}" ]] && apiservers+=("$(basename "${pidfile}")")
done
for name in kube-scheduler kube-controller-manager haproxy "${apiservers[@]}" etcd; do
	stop_pid "${PIDS}/${name}"
done

# Mounts under the state directory (overlay rootfs, pod network namespaces, shm).
if [[ -d "${STATE}" ]]; then
	awk -v state="${STATE}" '$5 == state || index($5, state "/") == 1 { print $5 }' /proc/self/mountinfo |
		sort -r | xargs -r -n1 umount -l 2>/dev/null || true
fi

for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	[[ "${ns}" == "${PREFIX}-"* ]] && ip netns delete "${ns}"
done

for node in "${nodes[@]}"; do
	for hierarchy in /sys/fs/cgroup/*/; do
		[[ -d "${hierarchy}${node}" ]] && find "${hierarchy}${node}" -depth -type d -exec rmdir {} \; 2>/dev/null || true
	done
done

rm -rf "${STATE}"
echo "local cluster removed"
