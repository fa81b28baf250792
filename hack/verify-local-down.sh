#!/usr/bin/env bash
# Fails when anything of hack/local-up.sh is left: a process, a network
# namespace, a mount or a cgroup. Run after hack/local-down.sh.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "${ROOT}/hack/lib/local-cluster.sh"

left=()
for pid in $(ls /proc | grep -E '^[0-9]+$'); do
	cmdline=$( (tr '\0' ' ' < "/proc/${pid}/cmdline") 2>/dev/null) || continue
	case "${cmdline}" in
	*"${STATE}"* | *"${DEPS}/"* | *"${BIN}/etcd"* | *"${BIN}/kube"*)
		left+=("process ${pid}: ${cmdline:0:120}") ;;
	esac
done
for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
	[[ "${ns}" == "${PREFIX}-"* ]] && left+=("network namespace ${ns}")
done
while read -r mountpoint; do
	left+=("mount ${mountpoint}")
done < <(awk -v state="${STATE}" '$5 == state || index($5, state "/") == 1 { print $5 }' /proc/self/mountinfo)
for dir in /sys/fs/cgroup/*/node[0-9]*; do
	[[ -d "${dir}" ]] && left+=("cgroup ${dir}")
done

if [[ ${#left[@]} -gt 0 ]]; then
	echo "local-down left behind:" >&2
	printf '  %s\n' "${left[@]}" >&2
	exit 1
fi
echo "local-down left no process, network namespace, mount or cgroup behind"
