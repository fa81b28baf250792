#!/usr/bin/env bash
# Builds the kind node image from source, pulling no image at any step (make
# kind-image; run as root: debootstrap and chroot).
#
#  1. A Debian root file system from debootstrap, cached in _output/kind.
#  2. The base image, per kind v0.33.0's own recipe (images/base/Dockerfile
#     and files/ from the sigs.k8s.io/kind module): kind's packages, files and
#     systemd units, and the containerd, runc, crictl, CNI plugins and CRIU
#     that hack/install-node-deps.sh builds for make local-up, with
#     /etc/criu/runc.conf allowing tcp-established. docker import makes it
#     localhost/kube-checkpoint/kind-base (a "localhost" name: kind's
#     docker pull of it can only reach loopback, and fails there at once).
#  3. A Kubernetes release tarball (kubernetes-server-linux-amd64.tar.gz
#     layout) of v1.37.2 from the k8s.io/kubernetes module: kubeadm, kubelet,
#     kubectl, and image archives written by test/images/build, which hold
#     the binaries of make build and cluster-binaries with this Debian's
#     glibc. The kube-apiserver image is this project's. kube-proxy.tar also holds every
#     other image kind's build would pull (it takes every tag in the archives
#     as built): etcd and CoreDNS built from their Go modules, pause, the
#     local-path provisioner and its helper, and podnet in the place of
#     kindnetd (kind's pod network, not published as a Go module).
#  4. kind build node-image --type file with that base image.
#
# The node image is kube-checkpoint.local/kind-node:v1.37.2. Every step is
# skipped when its inputs did not change (stamps in _output/kind).
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib/kind.sh
source "${ROOT}/hack/lib/kind.sh"

log() { echo "+++ [kind-image] $*"; }

# stamp NAME INPUT...: true when the stamp of NAME already holds the hash of
# the inputs (file contents and strings: each step passes its own text too);
# else remembers it for save_stamp.
stamp_hash=""
stamp() {
	local name=$1 hash
	shift
	hash=$( (for i in "$@"; do if [[ -f "${i}" ]]; then sha256sum "${i}"; else echo "${i}"; fi; done) | sha256sum | cut -c1-16)
	stamp_hash=${hash}
	[[ -f "${KIND_OUT}/${name}.stamp" && "$(cat "${KIND_OUT}/${name}.stamp")" == "${hash}" ]]
}
save_stamp() { echo "${stamp_hash}" > "${KIND_OUT}/$1.stamp"; }

# remove_replaced ID NAME: removes the image ID that NAME named before it was
# built again, so rebuilds leave no untagged image behind.
remove_replaced() {
	if [[ -n "$1" && "$1" != "$(docker image inspect -f '{{.Id}}' "$2")" ]]; then
		docker rmi "$1" >/dev/null 2>&1 || true
	fi
}

mkdir -p "${KIND_OUT}"
if [[ $(id -u) -ne 0 ]]; then
	echo "hack/kind-image.sh runs debootstrap and chroot: run it as root" >&2
	exit 1
fi
if ! docker info >/dev/null 2>&1; then
	echo "no Docker Engine answers (docker info failed): the kind node image needs one" >&2
	exit 1
fi

"${ROOT}/hack/install-node-deps.sh"

log "kind ${KIND_VERSION}"
kind_install
KIND_SRC=$(cd "${KIND_OUT}" && GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/kind@${KIND_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
FILES="${KIND_SRC}/images/base/files"

# 1. The root file system: kind's package list (images/base/Dockerfile), the
# runtime libraries of the CRIU built for this Debian release, busybox for the
# local-path helper image, and dbus for systemd.
PACKAGES=systemd,systemd-sysv,dbus,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,fuse-overlayfs,nfs-common,open-iscsi,e2fsprogs,bash,ca-certificates,curl,jq,procps,libprotobuf-c1,libnl-3-200,libnet1,libgnutls30,libnftables1,libbsd0,libcap2,libuuid1,busybox-static
# This machine's Debian release: CRIU, containerd and runc are built here, and
# the images' binaries link this glibc.
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME}")
ROOTFS="${KIND_OUT}/rootfs"
if ! stamp rootfs "${PACKAGES}" "${SUITE}" || [[ ! -f "${KIND_OUT}/rootfs.tar" ]]; then
	if ! command -v debootstrap >/dev/null; then
		log "apt-get install debootstrap"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
	fi
	log "debootstrap ${SUITE} into ${ROOTFS}"
	rm -rf "${ROOTFS}"
	debootstrap --variant=minbase --include="${PACKAGES}" "${SUITE}" "${ROOTFS}" http://deb.debian.org/debian > "${KIND_OUT}/debootstrap.log" 2>&1 ||
		{ tail -20 "${KIND_OUT}/debootstrap.log"; exit 1; }
	chroot "${ROOTFS}" apt-get clean
	rm -rf "${ROOTFS}"/var/lib/apt/lists/* "${ROOTFS}"/var/log/*.log "${ROOTFS}"/var/cache/debconf/*-old
	# The layer of the images that need a shell or iptables (kube-proxy, podnet).
	tar -C "${ROOTFS}" --numeric-owner --sort=name --mtime=@0 --exclude=./dev -cf "${KIND_OUT}/rootfs.tar" .
	save_stamp rootfs
fi

# 2. The base image.
DEPS_BIN="${ROOT}/_output/node-deps/bin"
DEPS_CNI="${ROOT}/_output/node-deps/cni/bin"
NODE_BINARIES=("${DEPS_BIN}"/{containerd,ctr,containerd-shim-runc-v2,crictl,runc,criu} "${DEPS_CNI}"/{host-local,loopback,ptp,portmap,bridge})
build_base() {
	log "base image ${KIND_BASE_IMAGE}"
	old=$(docker image inspect -f '{{.Id}}' "${KIND_BASE_IMAGE}" 2>/dev/null || true)
	base="${KIND_OUT}/base"
	rm -rf "${base}"
	cp -a "${ROOTFS}" "${base}"
	install -m 0755 "${FILES}"/usr/local/bin/* "${base}/usr/local/bin/"
	mkdir -p "${base}/kind/bin" "${base}/LICENSES"
	(cd "${FILES}/kind" && find . -type f) | while read -r f; do install -D -m 0644 "${FILES}/kind/${f}" "${base}/kind/${f}"; done
	chmod 0755 "${base}/kind" "${base}"/kind/bin "${base}"/kind/bin/*
	install -m 0644 "${FILES}"/LICENSES/* "${base}/LICENSES/"
	for d in etc etc/containerd etc/default etc/sysctl.d etc/systemd/system etc/systemd/system/kubelet.service.d; do
		mkdir -p "${base}/${d}"
		find "${FILES}/${d}" -maxdepth 1 -type f -exec install -m 0644 {} "${base}/${d}/" \;
	done
	install -m 0755 "${DEPS_BIN}"/{containerd,ctr,containerd-shim-runc-v2,crictl} "${base}/usr/local/bin/"
	install -m 0755 "${DEPS_BIN}/runc" "${DEPS_BIN}/criu" "${base}/usr/local/sbin/"
	mkdir -p "${base}/opt/cni/bin" "${base}/etc/criu"
	install -m 0755 "${DEPS_CNI}"/{host-local,loopback,ptp,portmap,bridge} "${base}/opt/cni/bin/"
	printf '# written by kube-checkpoint hack/kind-image.sh\ntcp-established\n' > "${base}/etc/criu/runc.conf"
	# kind's RUN steps, in a chroot.
	chroot "${base}" /bin/bash -euc '
		find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete
		rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \
			/lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \
			/lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*
		echo ReadKMsg=no >> /etc/systemd/journald.conf
		ln -sf /usr/lib/systemd/systemd /sbin/init
		systemctl enable kubelet.service containerd.service undo-mount-hacks.service
		systemctl mask systemd-binfmt.service
		mkdir -p /etc/kubernetes/manifests
		ctr oci spec | jq ".hooks.createContainer[.hooks.createContainer| length] |= . + {\"path\": \"/kind/bin/mount-product-files.sh\"}" \
			| jq "del(.process.rlimits)" > /etc/containerd/cri-base.json
		containerd --version && runc --version | head -1 && criu --version | head -1'
	# docker import cannot set a stop signal: a one-line build on top of the
	# imported image does (the classic builder, which pulls nothing it has).
	tar -C "${base}" --numeric-owner -cf - . | docker import - "${KIND_BASE_IMAGE}-rootfs" >/dev/null
	printf '%s\n' "FROM ${KIND_BASE_IMAGE}-rootfs" 'ENV container=docker' 'STOPSIGNAL SIGRTMIN+3' \
		'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' |
		DOCKER_BUILDKIT=0 docker build -q -t "${KIND_BASE_IMAGE}" - >/dev/null
	docker rmi "${KIND_BASE_IMAGE}-rootfs" >/dev/null
	remove_replaced "${old}" "${KIND_BASE_IMAGE}"
	rm -rf "${base}"
}
if ! stamp base "${KIND_OUT}/rootfs.stamp" "${NODE_BINARIES[@]}" "${KIND_VERSION}" "$(declare -f build_base)" ||
	! docker image inspect "${KIND_BASE_IMAGE}" >/dev/null 2>&1; then
	build_base
	save_stamp base
fi

# 3. The images kubeadm and kind run, and the release tarball. The binaries
# of make build and cluster-binaries link glibc: their images hold it.
BIN="${ROOT}/_output/bin"
STATIC="${KIND_OUT}/bin/static"
if [[ ! -x "${STATIC}/coredns" ]]; then
	log "CoreDNS ${COREDNS_VERSION}"
	(cd "${KIND_OUT}" && GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="${STATIC}" go install "github.com/coredns/coredns@${COREDNS_VERSION}")
fi
if [[ ! -x "${STATIC}/local-path-provisioner" ]]; then
	log "local-path-provisioner ${LOCAL_PATH_VERSION}"
	(cd "${KIND_OUT}" && GOFLAGS=-mod=mod CGO_ENABLED=0 GOBIN="${STATIC}" go install "github.com/rancher/local-path-provisioner@${LOCAL_PATH_VERSION}")
fi
# The tags kind's node-image build and kubeadm ask for.
KUBEADM="${KIND_OUT}/bin/kubeadm"
mapfile -t KUBEADM_IMAGES < <("${KUBEADM}" config images list --kubernetes-version "${KUBE_VERSION}")
image_of() { printf '%s\n' "${KUBEADM_IMAGES[@]}" | grep "/$1:"; }
kind_const() { sed -n "s/^const $1 = \"\(.*\)\"$/\1/p" "${KIND_SRC}/pkg/build/nodeimage/$2"; }
KINDNETD_IMAGE=$(kind_const kindnetdImage const_cni.go)
PROVISIONER_IMAGE=$(kind_const storageProvisionerImage const_storage.go)
HELPER_IMAGE=$(kind_const storageHelperImage const_storage.go)
SANDBOX_IMAGE=$(sed -n 's/^ *sandbox_image = "\(.*\)"$/\1/p' "${FILES}/etc/containerd/config.toml")
PATH_ENV='"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"'
GLIBC_DIR="${ROOTFS}/usr/lib/x86_64-linux-gnu"
GLIBC="\"/lib/x86_64-linux-gnu/libc.so.6\": \"${GLIBC_DIR}/libc.so.6\", \"/lib64/ld-linux-x86-64.so.2\": \"${GLIBC_DIR}/ld-linux-x86-64.so.2\""

TARBALL="${KIND_OUT}/kubernetes-server-linux-amd64.tar.gz"
RELEASE="${KIND_OUT}/release"
SERVER_BIN="${RELEASE}/kubernetes/server/bin"
BUILD_IMAGE="${KIND_OUT}/bin/build-image"
(cd "${ROOT}" && go build -o "${BUILD_IMAGE}" ./test/images/build)
build_release() {
	log "release tarball ${TARBALL}"
	rm -rf "${RELEASE}"
	mkdir -p "${SERVER_BIN}"
	echo "${KUBE_VERSION}" > "${RELEASE}/kubernetes/version"
	install -m 0755 "${KIND_OUT}/bin/kubeadm" "${BIN}/kubelet" "${BIN}/kubectl" "${SERVER_BIN}/"
	control_plane_image() { # name
		printf '[{"names": ["%s"], "files": {"/usr/local/bin/%s": "%s", %s}, "env": [%s]}]' \
			"$(image_of "$1")" "$1" "${BIN}/$1" "${GLIBC}" "${PATH_ENV}" > "${RELEASE}/$1.json"
		"${BUILD_IMAGE}" -spec "${RELEASE}/$1.json" -out "${SERVER_BIN}/$1.tar"
	}
	for c in kube-apiserver kube-controller-manager kube-scheduler; do control_plane_image "${c}"; done
	cat > "${RELEASE}/images.json" <<-JSON
	[
	  {"names": ["$(image_of kube-proxy)"], "layers": ["${KIND_OUT}/rootfs.tar"],
	   "files": {"/usr/local/bin/kube-proxy": "${KIND_OUT}/bin/kube-proxy"}, "env": [${PATH_ENV}]},
	  {"names": ["$(image_of etcd)"], "files": {"/usr/local/bin/etcd": "${BIN}/etcd", ${GLIBC}}, "env": [${PATH_ENV}]},
	  {"names": ["$(image_of coredns)"], "files": {"/coredns": "${STATIC}/coredns"}, "entrypoint": ["/coredns"]},
	  {"names": ["${SANDBOX_IMAGE}", "$(image_of pause)"], "files": {"/pause": "${ROOT}/_output/images/pause"}, "entrypoint": ["/pause"]},
	  {"names": ["${KINDNETD_IMAGE}"], "layers": ["${KIND_OUT}/rootfs.tar"],
	   "files": {"/usr/local/bin/podnet": "${KIND_OUT}/bin/podnet"}, "entrypoint": ["/usr/local/bin/podnet"], "env": [${PATH_ENV}]},
	  {"names": ["${PROVISIONER_IMAGE}"], "files": {"/usr/local/bin/local-path-provisioner": "${STATIC}/local-path-provisioner"},
	   "entrypoint": ["/usr/local/bin/local-path-provisioner"], "env": [${PATH_ENV}]},
	  {"names": ["${HELPER_IMAGE}"], "files": {"/bin/busybox": "${ROOTFS}/bin/busybox"},
	   "links": {"/bin/sh": "busybox", "/bin/rm": "busybox", "/bin/mkdir": "busybox"}, "env": [${PATH_ENV}]}
	]
	JSON
	"${BUILD_IMAGE}" -spec "${RELEASE}/images.json" -out "${SERVER_BIN}/kube-proxy.tar"
	# kind's build pulls what the archives lack: fail here instead.
	built=$(for t in "${SERVER_BIN}"/*.tar; do "${BUILD_IMAGE}" -tags "${t}"; done)
	for image in "${KUBEADM_IMAGES[@]}" "${SANDBOX_IMAGE}" "${KINDNETD_IMAGE}" "${PROVISIONER_IMAGE}" "${HELPER_IMAGE}"; do
		grep -qxF "${image}" <<< "${built}" || { echo "no image ${image} in the release tarball: kind would pull it" >&2; exit 1; }
	done
	# Its image archives are compressed already: the fastest gzip will do.
	tar -C "${RELEASE}" -cf - kubernetes | gzip -1 > "${TARBALL}"
	rm -rf "${RELEASE}"
}
SERVER_INPUTS=("${KIND_OUT}"/bin/{kubeadm,kube-proxy,podnet} "${BIN}"/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet,kubectl,etcd}
	"${STATIC}"/* "${ROOT}/_output/images/pause" "${KIND_OUT}/rootfs.stamp" "${BUILD_IMAGE}")
if ! stamp release "${SERVER_INPUTS[@]}" "$(declare -f build_release)" || [[ ! -f "${TARBALL}" ]]; then
	build_release
	save_stamp release
fi

# 4. kind's own node-image build.
kind_docker_setup "${KIND_BASE_IMAGE}"
if ! stamp node "${TARBALL}" "${KIND_OUT}/base.stamp" "${KIND_VERSION}" ||
	! docker image inspect "${KIND_NODE_IMAGE}" >/dev/null 2>&1; then
	log "kind build node-image ${KIND_NODE_IMAGE}"
	old=$(docker image inspect -f '{{.Id}}' "${KIND_NODE_IMAGE}" 2>/dev/null || true)
	"${KIND}" build node-image --type file --base-image "${KIND_BASE_IMAGE}" --image "${KIND_NODE_IMAGE}" "${TARBALL}"
	remove_replaced "${old}" "${KIND_NODE_IMAGE}"
	save_stamp node
fi
log "ready: ${KIND_NODE_IMAGE} ($(docker image inspect -f '{{.Size}}' "${KIND_NODE_IMAGE}" | awk '{printf "%.0f MB", $1/1e6}'))"
