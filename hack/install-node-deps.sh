#!/usr/bin/env bash
# Installs what a real checkpointing node needs on this machine kind (Debian 12,
# no registry, only Debian's packages and the Go module proxy), caching every
# build under _output/node-deps so a second run takes seconds:
#   - Debian packages: iproute2, iptables (CRIU locks pod networks with
#     iptables-restore), libseccomp-dev (runc), CRIU's build dependencies and
#     haproxy (the load balancer of APISERVERS >= 2);
#   - CRIU 4.2 from Debian sid's source package (bookworm's 3.17 fails on this
#     kernel; 4.1 cannot dump TCP sockets on kernels >= 6.16);
#   - containerd v2.2.9 with ctr and the runc shim, runc v1.3.3 (seccomp),
#     crictl, and the bridge/ptp/host-local/loopback/portmap CNI plugins
#     (ptp is the kind node image's pod network).
# Everything is installed into _output/node-deps/bin; criu also into
# /usr/local/sbin, where runc looks for it, with /etc/criu/runc.conf allowing
# established TCP connections to be checkpointed.
#
# Arguments add the other versions a node stack of make local-up NODES=...
# names, each built from the Go module proxy once and cached under
# _output/node-deps/<component>-<version> (hack/lib/local-cluster.sh's
# stack_dir says where):
#   kubelet=v1.34.4 containerd=v1.7.35 runc=v1.5.3 checkpointctl=v1.6.0
#   hack/install-node-deps.sh [component=version ...]
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
source "${ROOT}/hack/lib/local-cluster.sh"
source "${ROOT}/hack/lib/staging.sh"
NODE_BIN="${DEPS}/bin"
CNI_BIN="${DEPS}/cni/bin"
mkdir -p "${NODE_BIN}" "${CNI_BIN}" "${DEPS}/src"
export GOFLAGS=-buildvcs=false

CONTAINERD_VERSION=${DEFAULT_CONTAINERD}
RUNC_VERSION=${DEFAULT_RUNC}
CRICTL_VERSION=v1.37.0
CNI_PLUGINS_VERSION=v1.10.0
CRIU_MIN_VERSION=4.2

log() { echo "+++ [node-deps] [${SECONDS}s] $*"; }

debian_packages() {
	local wanted=(iproute2 iptables libseccomp-dev pkg-config make gcc
		libprotobuf-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler python3-protobuf
		libnl-3-dev libcap-dev libnet1-dev libbsd-dev libgnutls28-dev libnftables-dev uuid-dev xz-utils
		haproxy)
	local missing=()
	for p in "${wanted[@]}"; do
		dpkg-query -W -f='${Status}' "${p}" 2>/dev/null | grep -q "install ok installed" || missing+=("${p}")
	done
	if [[ ${#missing[@]} -gt 0 ]]; then
		log "apt-get install ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
}

criu_ok() {
	local v
	v=$("$1" --version 2>/dev/null | sed -n 's/^Version: //p')
	[[ -n "${v}" ]] && printf '%s\n%s\n' "${CRIU_MIN_VERSION}" "${v}" | sort -V -C
}

criu() {
	if [[ -x "${NODE_BIN}/criu" ]] && criu_ok "${NODE_BIN}/criu"; then
		install -m 0755 "${NODE_BIN}/criu" /usr/local/sbin/criu
		return
	fi
	log "building CRIU >= ${CRIU_MIN_VERSION} from Debian sid's source package"
	local apt="${DEPS}/apt"
	mkdir -p "${apt}/lists/partial" "${apt}/archives/partial"
	echo "deb-src http://deb.debian.org/debian sid main" > "${apt}/sources.list"
	local opts=(-o "Dir::Etc::SourceList=${apt}/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
		-o "Dir::State::Lists=${apt}/lists" -o "Dir::Cache::Archives=${apt}/archives" -o "APT::Sandbox::User=root")
	apt-get "${opts[@]}" update -qq
	# Only the upstream tarball is needed; the mirror may already have
	# replaced the Debian packaging tarball the index names.
	(cd "${DEPS}/src" && apt-get "${opts[@]}" source --download-only criu >/dev/null 2>&1) || true
	local orig
	orig=$(ls "${DEPS}"/src/criu_*.orig.tar.* 2>/dev/null | sort -V | tail -1)
	[[ -n "${orig}" ]] || { echo "cannot download CRIU's source from Debian sid" >&2; exit 1; }
	rm -rf "${DEPS}/src/criu"
	mkdir -p "${DEPS}/src/criu"
	tar -xf "${orig}" -C "${DEPS}/src/criu" --strip-components=1
	make -C "${DEPS}/src/criu" -j"$(nproc)" criu >/dev/null
	install -m 0755 "${DEPS}/src/criu/criu/criu" "${NODE_BIN}/criu"
	criu_ok "${NODE_BIN}/criu" || { echo "built CRIU is older than ${CRIU_MIN_VERSION}" >&2; exit 1; }
	install -m 0755 "${NODE_BIN}/criu" /usr/local/sbin/criu
}

# runc reads CRIU options from /etc/criu/runc.conf. Established TCP
# connections can only be checkpointed with tcp-established; an operator's own
# file is left alone.
criu_config() {
	local conf=/etc/criu/runc.conf marker="# written by kube-checkpoint hack/install-node-deps.sh"
	if [[ -f "${conf}" ]] && ! grep -qF "${marker}" "${conf}"; then
		log "keeping the existing ${conf}"
		return
	fi
	mkdir -p /etc/criu
	printf '%s\ntcp-established\n' "${marker}" > "${conf}"
}

# build_in_module builds main packages of one release of a module that only
# builds inside a module requiring it (its go.mod has replace directives):
# go get records what those packages need, without a tidy of the whole module.
build_in_module() { # dir version package... -- go build flags...
	local dir=$1 v=$2
	shift 2
	local pkgs=()
	while [[ $1 != -- ]]; do pkgs+=("$1"); shift; done
	shift
	mkdir -p "${dir}"
	(cd "${dir}" && rm -f go.mod go.sum tools.go && go mod init "$(basename "${dir}")" >/dev/null 2>&1 &&
		go get "${pkgs[@]/%/@${v}}" >/dev/null)
	(cd "${dir}" && go build "$@" "${pkgs[@]}")
}

# containerd: v2 installs with go install; v1 builds inside a module. The
# version it reports to the kubelet (status.nodeInfo.containerRuntimeVersion,
# "containerd://2.2.9") is stamped as containerd's own release build does;
# unstamped, it would be "2.2.9+unknown".
containerd_version() { # version
	local v=$1 dir
	dir=$(stack_dir containerd "${v}")
	[[ -x "${dir}/containerd" && -x "${dir}/containerd-shim-runc-v2" && -x "${dir}/ctr" ]] && return
	log "containerd ${v}"
	mkdir -p "${dir}"
	if [[ ${v} == v1.* ]]; then
		local mod=github.com/containerd/containerd
		build_in_module "${DEPS}/src/containerd-${v}" "${v}" "${mod}/cmd/containerd" "${mod}/cmd/ctr" \
			"${mod}/cmd/containerd-shim-runc-v2" -- -tags no_btrfs -ldflags "-X ${mod}/version.Version=${v}" -o "${dir}/"
	else
		local mod=github.com/containerd/containerd/v2
		GOBIN="${dir}" go install -ldflags "-X ${mod}/version.Version=${v}" "${mod}/cmd/containerd@${v}" \
			"${mod}/cmd/ctr@${v}" "${mod}/cmd/containerd-shim-runc-v2@${v}"
	fi
}

runc_version() { # version
	local v=$1 dir
	dir=$(stack_dir runc "${v}")
	[[ -x "${dir}/runc" ]] && return
	log "runc ${v}"
	mkdir -p "${dir}"
	build_in_module "${DEPS}/src/runc-${v}" "${v}" github.com/opencontainers/runc -- -tags seccomp -o "${dir}/runc"
}

# kubelet_version builds an upstream kubelet of another release inside a
# module that requires that k8s.io/kubernetes and pins its staging modules to
# the matching v0.x tags, stamped with its version as upstream's build does.
kubelet_version() { # version
	local v=$1 dir
	dir=$(stack_dir kubelet "${v}")
	[[ -x "${dir}/kubelet" ]] && return
	log "kubelet ${v}"
	local src="${DEPS}/src/kubelet-${v}" modules minor=${v#v1.}
	minor=${minor%%.*}
	mkdir -p "${src}" "${dir}"
	modules=$(staging_modules "${v}")
	(cd "${src}" && rm -f go.mod go.sum && go mod init "kubelet-${v}" >/dev/null 2>&1 &&
		for m in ${modules}; do go mod edit -replace "${m}=${m}@v0.${v#v1.}"; done &&
		go get "k8s.io/kubernetes/cmd/kubelet@${v}" >/dev/null)
	local pkg=k8s.io/component-base/version
	(cd "${src}" && go build -ldflags "-X ${pkg}.gitMajor=1 -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitVersion=${v} -X ${pkg}.gitTreeState=clean" \
		-o "${dir}/kubelet" k8s.io/kubernetes/cmd/kubelet)
}

# checkpointctl reads archives as forensic users do (v1.7 needs a go-criu
# the module proxy does not serve).
checkpointctl_version() { # version
	local v=$1 dir
	dir=$(stack_dir checkpointctl "${v}")
	[[ -x "${dir}/checkpointctl" ]] && return
	log "checkpointctl ${v}"
	GOBIN="${dir}" go install "github.com/checkpoint-restore/checkpointctl@${v}"
}

go_tools() {
	containerd_version "${CONTAINERD_VERSION}"
	runc_version "${RUNC_VERSION}"
	if [[ ! -x "${NODE_BIN}/crictl" ]]; then
		log "crictl ${CRICTL_VERSION}"
		GOBIN="${NODE_BIN}" go install "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
	fi
	for plugin in main/bridge main/ptp main/loopback ipam/host-local meta/portmap; do
		if [[ ! -x "${CNI_BIN}/${plugin#*/}" ]]; then
			log "CNI plugin ${plugin} ${CNI_PLUGINS_VERSION}"
			GOBIN="${CNI_BIN}" go install "github.com/containernetworking/plugins/plugins/${plugin}@${CNI_PLUGINS_VERSION}"
		fi
	done
}

debian_packages
criu
criu_config
go_tools
for arg in "$@"; do
	component=${arg%%=*} version=${arg#*=}
	[[ "${version}" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "${arg}: want component=vX.Y.Z" >&2; exit 1; }
	case ${component} in
	kubelet | containerd | runc | checkpointctl) "${component}_version" "${version}" ;;
	*) echo "${arg}: unknown component ${component} (kubelet, containerd, runc or checkpointctl)" >&2; exit 1 ;;
	esac
done
log "ready: $("${NODE_BIN}/criu" --version | head -1), $("${NODE_BIN}/containerd" --version | awk '{print $3}'), runc $("${NODE_BIN}/runc" --version | head -1 | awk '{print $3}')"
