#!/usr/bin/env bash
# Names, addresses and helpers shared by local-up.sh, local-down.sh and the
# e2e runner. Every address belongs to network namespaces these scripts create.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
STATE="${ROOT}/_output/local-up"
LOGS="${STATE}/logs"
PKI="${STATE}/pki"
PIDS="${STATE}/pids"
DAEMONS="${STATE}/daemons"
BIN="${ROOT}/_output/bin"
DEPS="${ROOT}/_output/node-deps"
IMAGES="${ROOT}/_output/images"
KUBECONFIG_FILE="${STATE}/kubeconfig"

PREFIX=${LOCAL_UP_PREFIX:-kc}
SWITCH_NS="${PREFIX}-switch"
CP_NS="${PREFIX}-cp"
CP_IP=10.213.0.1
SERVICE_CIDR=10.96.0.0/24
SERVICE_IP=10.96.0.1

PAUSE_IMAGE=registry.k8s.io/pause:3.10.1
COUNTER_IMAGE=kube-checkpoint.local/counter:v1

export PATH="/usr/local/go/bin:${PATH}"

# What the apiservers keep free of the disk the nodes share with this machine
# (--checkpoint-node-disk-reserve): a fixed amount, since the free share of
# that disk is set by whatever else runs on it, not the default 15% of it.
DISK_RESERVE=${DISK_RESERVE:-4Gi}

# The node stack every node runs unless NODES names another (hack/local-up.sh).
DEFAULT_KUBELET=v1.37.2
DEFAULT_CONTAINERD=v2.2.9
DEFAULT_RUNC=v1.3.3

# The rows of the version-skew matrix (docs/version-skew.md), one node each
# (hack/local-up.sh NODES): every kubelet the skew policy allows with the
# default containerd, the newer containerds, the other runcs, containerd 1.7
# (which cannot checkpoint) and a containerd with CRIU turned off.
SKEW_MATRIX="kubelet=v1.34.4 kubelet=v1.35.4 kubelet=v1.36.3 default containerd=v2.3.7 containerd=v2.4.2 \
runc=v1.4.4 runc=v1.5.3 kubelet=v1.34.4,containerd=v1.7.35 criu=disabled"
# What make test runs of it: one row of each kind (the oldest kubelet, the
# newest containerd, the newest runc, containerd 1.7, CRIU turned off); the
# default stack is the rest of the e2e suite's.
SKEW_SUBSET="kubelet=v1.34.4 containerd=v2.4.2 runc=v1.5.3 kubelet=v1.34.4,containerd=v1.7.35 criu=disabled"
CHECKPOINTCTL_VERSION=v1.6.0

# stack_dir is where the binaries of one version of a node component are:
# the default stack's where make cluster-binaries and install-node-deps.sh
# have always put them, every other version in a directory of its own.
stack_dir() { # component version
	case "$1/$2" in
	"kubelet/${DEFAULT_KUBELET}") echo "${BIN}" ;;
	"containerd/${DEFAULT_CONTAINERD}" | "runc/${DEFAULT_RUNC}" | checkpointctl/*) echo "${DEPS}/bin" ;;
	*) echo "${DEPS}/$1-$2" ;;
	esac
}

# apiserver_name is replica $1's daemon name: kube-apiserver for the first,
# kube-apiserver-N for the others.
apiserver_name() { if [[ $1 -eq 1 ]]; then echo kube-apiserver; else echo "kube-apiserver-$1"; fi; }
# apiserver_ip is replica $1's address with APISERVERS >= 2 (behind haproxy on
# CP_IP); with one apiserver it listens on CP_IP itself.
apiserver_ip() { echo "10.213.0.$(($1 + 100))"; }

# parse_stack prints the whole stack of a node from what NODES says of it
# ("kubelet=v1.34.4,containerd=v1.7.35", or "default"): every component with
# its version, criu=enabled or criu=disabled (enable_criu = false in
# containerd's CRI configuration, containerd v2 only).
parse_stack() { # stack
	local kubelet=${DEFAULT_KUBELET} containerd=${DEFAULT_CONTAINERD} runc=${DEFAULT_RUNC} criu=enabled item
	local IFS=,
	for item in $1; do
		[[ "${item}" == default ]] && continue
		case "${item%%=*}" in
		kubelet | containerd | runc)
			[[ "${item#*=}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "NODES: ${item}: want a version vX.Y.Z" >&2; return 1; }
			printf -v "${item%%=*}" '%s' "${item#*=}" ;;
		criu)
			[[ "${item#*=}" =~ ^(enabled|disabled)$ ]] || { echo "NODES: ${item}: want criu=enabled or criu=disabled" >&2; return 1; }
			criu=${item#*=} ;;
		*) echo "NODES: ${item}: unknown component (kubelet, containerd, runc or criu)" >&2; return 1 ;;
		esac
	done
	if [[ ${criu} == disabled && ${containerd} == v1.* ]]; then
		echo "NODES: criu=disabled needs containerd v2 (enable_criu), not ${containerd}" >&2
		return 1
	fi
	echo "kubelet=${kubelet} containerd=${containerd} runc=${runc} criu=${criu}"
}

node_name() { echo "node$1"; }
node_ns() { echo "${PREFIX}-node$1"; }
node_ip() { echo "10.213.0.$(($1 + 1))"; }
pod_cidr() { echo "10.88.$1.0/24"; }

in_ns() { # namespace command...
	local ns=$1
	shift
	nsenter --net="/var/run/netns/${ns}" "$@"
}

# run_in starts a daemon in a network namespace (nsenter --net, not ip netns
# exec, which remounts /sys and hides the cgroup mounts), logging to
# ${LOGS}/name.log and recording its pid in ${PIDS}/name. The command is kept
# as the script ${DAEMONS}/name, which starts the daemon again as local-up did
# (arguments given to it are appended): the e2e suite's faults stop and
# start daemons with it.
run_in() { # namespace name command...
	local ns=$1 name=$2
	shift 2
	mkdir -p "${PIDS}" "${LOGS}" "${DAEMONS}"
	{
		echo '#!/usr/bin/env bash'
		echo "# Starts ${name} of the local cluster as hack/local-up.sh did; arguments are appended."
		printf 'exec nsenter --net=/var/run/netns/%q' "${ns}"
		printf ' %q' "$@"
		echo ' "$@"'
	} > "${DAEMONS}/${name}"
	chmod +x "${DAEMONS}/${name}"
	setsid "${DAEMONS}/${name}" > "${LOGS}/${name}.log" 2>&1 < /dev/null &
	echo $! > "${PIDS}/${name}"
}

# import_images loads every image tarball of make images into the containerd
# of the node whose state directory is $1, with the ctr of that containerd.
import_images() { # node-dir [ctr]
	local image
	for image in "${IMAGES}"/*.tar; do
		"${2:-${DEPS}/bin/ctr}" --address="$1/containerd.sock" -n k8s.io images import "${image}" 2>&1 >/dev/null |
			{ grep -v 'DEPRECATION: The support for cgroup v1' || true; } >&2
	done
}

kubectl() {
	in_ns "${CP_NS}" "${BIN}/kubectl" --kubeconfig="${KUBECONFIG_FILE}" "$@"
}

wait_for() { # description seconds command...
	local what=$1 seconds=$2
	shift 2
	local deadline=$((SECONDS + seconds))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			echo "timed out after ${seconds}s waiting for ${what}; logs in ${LOGS}:" >&2
			for log in "${LOGS}"/*.log; do
				echo "--- ${log}" >&2
				tail -n 15 "${log}" >&2
			done
			return 1
		fi
		sleep 1
	done
}
