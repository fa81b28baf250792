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
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPS="${ROOT}/_output/node-deps"
BIN="${DEPS}/bin"
CNI_BIN="${DEPS}/cni/bin"
mkdir -p "${BIN}" "${CNI_BIN}" "${DEPS}/src"
export PATH="/usr/local/go/bin:${PATH}" GOFLAGS=-buildvcs=false

CONTAINERD_VERSION=v2.2.9
RUNC_VERSION=v1.3.3
CRICTL_VERSION=v1.37.0
CNI_PLUGINS_VERSION=v1.10.0
CRIU_MIN_VERSION=4.2

log() { echo "+++ [node-deps] $*"; }

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
	if [[ -x "${BIN}/criu" ]] && criu_ok "${BIN}/criu"; then
		install -m 0755 "${BIN}/criu" /usr/local/sbin/criu
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
	install -m 0755 "${DEPS}/src/criu/criu/criu" "${BIN}/criu"
	criu_ok "${BIN}/criu" || { echo "built CRIU is older than ${CRIU_MIN_VERSION}" >&2; exit 1; }
	install -m 0755 "${BIN}/criu" /usr/local/sbin/criu
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

go_tools() {
	if [[ ! -x "${BIN}/containerd" ]]; then
		log "containerd ${CONTAINERD_VERSION}"
		GOBIN="${BIN}" go install "github.com/containerd/containerd/v2/cmd/containerd@${CONTAINERD_VERSION}" \
			"github.com/containerd/containerd/v2/cmd/ctr@${CONTAINERD_VERSION}" \
			"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@${CONTAINERD_VERSION}"
	fi
	if [[ ! -x "${BIN}/runc" ]]; then
		log "runc ${RUNC_VERSION}"
		# runc builds only inside a module that requires it.
		local mod="${DEPS}/src/runc-build"
		mkdir -p "${mod}"
		(cd "${mod}" && rm -f go.mod go.sum && go mod init runc-build >/dev/null 2>&1 &&
			printf 'package tools\n\nimport _ "github.com/opencontainers/runc"\n' > tools.go &&
			go get "github.com/opencontainers/runc@${RUNC_VERSION}" >/dev/null 2>&1 &&
			go mod tidy >/dev/null 2>&1 || true)
		(cd "${mod}" && go build -tags seccomp -o "${BIN}/runc" github.com/opencontainers/runc)
	fi
	if [[ ! -x "${BIN}/crictl" ]]; then
		log "crictl ${CRICTL_VERSION}"
		GOBIN="${BIN}" go install "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
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
log "ready: $("${BIN}/criu" --version | head -1), $("${BIN}/containerd" --version | awk '{print $3}'), runc $("${BIN}/runc" --version | head -1 | awk '{print $3}')"
