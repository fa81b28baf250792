#!/usr/bin/env bash
# Names and versions shared by kind-image.sh, kind-up.sh, kind-down.sh and the
# e2e runner's kind mode.

ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
export PATH="/usr/local/go/bin:${PATH}" GOFLAGS=${GOFLAGS:--buildvcs=false}

KUBE_VERSION=v1.37.2
KIND_VERSION=v0.33.0
# CoreDNS as kubeadm v1.37.2 deploys it. kind v0.33.0 builds the local-path
# provisioner v0.0.34, which the Go module proxy does not serve (nor v0.0.31
# to v0.0.33 with a checksum): v0.0.30 takes the same flags.
COREDNS_VERSION=v1.14.6
LOCAL_PATH_VERSION=v0.0.30

KIND_OUT="${ROOT}/_output/kind"
KIND="${ROOT}/_output/bin/kind"
KIND_CLUSTER=${KIND_CLUSTER_NAME:-kube-checkpoint}
KIND_BASE_IMAGE=localhost/kube-checkpoint/kind-base:${KIND_VERSION}
KIND_NODE_IMAGE=kube-checkpoint.local/kind-node:${KUBE_VERSION}
KIND_KUBECONFIG="${KIND_OUT}/kubeconfig"
COUNTER_IMAGE=kube-checkpoint.local/counter:v1

# kind_install builds kind ${KIND_VERSION} into _output/bin unless it is there.
kind_install() {
	if [[ ! -x "${KIND}" ]] || ! "${KIND}" version | grep -q "${KIND_VERSION}"; then
		mkdir -p "${KIND_OUT}"
		(cd "${KIND_OUT}" && GOFLAGS=-mod=mod GOBIN="$(dirname "${KIND}")" go install "sigs.k8s.io/kind@${KIND_VERSION}")
	fi
}

# kind runs docker through hack/kind/shim (see there).
export PATH="${ROOT}/hack/kind/shim:${PATH}"

# kind_docker_setup makes kind's privileged containers start here: where the
# Docker Engine cannot start one (dockerd runs without a capability that it
# hands to privileged containers), it installs hack/kind/runc as the runtime
# "kube-checkpoint", which the shim then gives every container kind creates.
# Elsewhere it does nothing.
kind_docker_setup() { # image to try
	if docker run --rm --privileged --entrypoint /bin/true "$1" >/dev/null 2>&1; then
		return
	fi
	echo "+++ [kind] this Docker Engine cannot start privileged containers: using the runtime kube-checkpoint (hack/kind/runc)"
	(cd "${ROOT}" && go build -o /usr/local/sbin/kube-checkpoint-runc ./hack/kind/runc)
	/usr/local/sbin/kube-checkpoint-runc --install
	export KIND_DOCKER_RUNTIME=kube-checkpoint
	docker run --rm --privileged --entrypoint /bin/true "$1" >/dev/null
}
