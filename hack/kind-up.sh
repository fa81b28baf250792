#!/usr/bin/env bash
# Creates the kind cluster "kube-checkpoint" (a control plane and a worker)
# for the e2e suite, with pods/checkpoint served, the test image loaded on
# both nodes, and a demo checkpoint (make kind-up).
#
# KIND_NODE=built (the default): the node image of hack/kind-image.sh, built
#   here from source with this project's kube-apiserver; nothing is pulled.
#   This is the path CI verifies.
# KIND_NODE=published: the quick path for machines with internet: the
#   published kindest/node:v1.37.2 with a CRIU 4.2 layer
#   (hack/kind/node.Dockerfile) and this project's kube-apiserver put in place
#   of kind's. Not verified here (no registry can be reached).
#
# The cluster's kubeconfig is written to _output/kind/kubeconfig; the suite
# then runs with make test-e2e-kind.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=hack/lib/kind.sh
source "${ROOT}/hack/lib/kind.sh"
KIND_NODE=${KIND_NODE:-built}
DEMO=${DEMO:-true}

step() { echo "+++ [kind-up] $*"; }
kubectl() { "${ROOT}/_output/bin/kubectl" --kubeconfig="${KIND_KUBECONFIG}" "$@"; }

if ! docker info >/dev/null 2>&1; then
	echo "no Docker Engine answers (docker info failed): kind needs one" >&2
	exit 1
fi
kind_install
mkdir -p "${KIND_OUT}"

node_image=${KIND_NODE_IMAGE}
case "${KIND_NODE}" in
built)
	docker image inspect "${node_image}" >/dev/null 2>&1 ||
		{ echo "no node image ${node_image}: run make kind-image first" >&2; exit 1; }
	;;
published)
	node_image=kube-checkpoint.local/kind-node-published:${KUBE_VERSION}
	make -C "${ROOT}" build images
	docker build -t "${node_image}" -f "${ROOT}/hack/kind/node.Dockerfile" "${ROOT}/hack/kind"
	docker build -t kube-checkpoint.local/kube-apiserver:${KUBE_VERSION} -f "${ROOT}/hack/kind/apiserver.Dockerfile" "${ROOT}/_output/bin"
	;;
*)
	echo "KIND_NODE must be built or published, not ${KIND_NODE}" >&2
	exit 1
	;;
esac

kind_docker_setup "${node_image}"
if "${KIND}" get clusters 2>/dev/null | grep -qx "${KIND_CLUSTER}"; then
	step "deleting the existing cluster ${KIND_CLUSTER}"
	"${KIND}" delete cluster --name "${KIND_CLUSTER}"
fi

# The cluster: the gate on in the apiserver only (kind's featureGates would
# reach the kubelet too, which does not know it), kube-proxy in nftables mode,
# and on a cgroup v1 host the kubelet told to run there anyway.
config="${KIND_OUT}/config.yaml"
cp "${ROOT}/hack/kind/config.yaml" "${config}"
if [[ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]]; then
	step "cgroup v1 host: the kubelets get failCgroupV1: false"
	cat >> "${config}" <<-'EOF'
	kubeadmConfigPatches:
	- |
	  kind: KubeletConfiguration
	  failCgroupV1: false
	EOF
fi

# kind's entrypoint picks containerd's snapshotter from the file system of the
# node's root, which on a Docker with the fuse-overlayfs storage driver is FUSE:
# it would pick fuse-overlayfs, which the node image does not hold. Containerd's
# store is a volume on the host's own file system, where overlayfs works.
if [[ "$(docker info --format '{{.Driver}}')" == fuse-overlayfs && -z "${KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER:-}" ]]; then
	step "Docker's storage driver is fuse-overlayfs: the nodes' containerd keeps overlayfs"
	export KIND_EXPERIMENTAL_CONTAINERD_SNAPSHOTTER=overlayfs
fi

# Where even root cannot lower an oom_score_adj (a sandbox without
# CAP_SYS_RESOURCE), runc fails every pod ("can't get final child's PID from
# pipe") unless containerd leaves the score at its own.
if ! sh -c 'echo -1 > /proc/self/oom_score_adj' 2>/dev/null; then
	step "this host cannot lower oom_score_adj: the nodes' containerd gets restrict_oom_score_adj"
	cat >> "${config}" <<-'EOF'
	containerdConfigPatches:
	- |
	  [plugins."io.containerd.grpc.v1.cri"]
	    restrict_oom_score_adj = true
	EOF
fi

step "kind create cluster ${KIND_CLUSTER} (${node_image})"
"${KIND}" create cluster --name "${KIND_CLUSTER}" --image "${node_image}" --config "${config}" \
	--kubeconfig "${KIND_KUBECONFIG}" --wait 5m
nodes=$("${KIND}" get nodes --name "${KIND_CLUSTER}")

if [[ "${KIND_NODE}" == published ]]; then
	"${KIND}" load docker-image --name "${KIND_CLUSTER}" kube-checkpoint.local/kube-apiserver:${KUBE_VERSION}
	docker exec "${KIND_CLUSTER}-control-plane" sed -i \
		-e "s#image: .*kube-apiserver.*#image: kube-checkpoint.local/kube-apiserver:${KUBE_VERSION}#" \
		-e 's#- kube-apiserver$#- kube-apiserver\n    - --feature-gates=ContainerCheckpointAPI=true#' \
		/etc/kubernetes/manifests/kube-apiserver.yaml
fi

step "loading ${COUNTER_IMAGE} on ${nodes//$'\n'/, }"
"${KIND}" load image-archive --name "${KIND_CLUSTER}" "${ROOT}/_output/images/counter.tar"

step "waiting for pods/checkpoint in discovery"
for _ in $(seq 120); do
	kubectl get --raw /api/v1 2>/dev/null | grep -q '"pods/checkpoint"' && break
	sleep 1
done
kubectl get --raw /api/v1 | grep -q '"pods/checkpoint"' ||
	{ echo "the apiserver of ${KIND_CLUSTER} does not serve pods/checkpoint" >&2; exit 1; }
kubectl wait --for=condition=Ready nodes --all --timeout=180s >/dev/null
kubectl get nodes -o wide

if [[ "${DEMO}" == true ]]; then
	worker="${KIND_CLUSTER}-worker"
	step "demo: a counter pod on ${worker}, checkpointed with kubectl alpha checkpoint"
	kubectl delete pod counter --ignore-not-found --wait=true >/dev/null
	kubectl apply -f - >/dev/null <<-EOF
	apiVersion: v1
	kind: Pod
	metadata:
	  name: counter
	  namespace: default
	spec:
	  nodeName: ${worker}
	  containers:
	  - name: counter
	    image: ${COUNTER_IMAGE}
	    imagePullPolicy: Never
	EOF
	kubectl wait --for=condition=Ready pod/counter --timeout=120s >/dev/null
	echo
	kubectl alpha checkpoint counter
	echo
	step "the archive on ${worker}:"
	docker exec "${worker}" ls -l /var/lib/kubelet/checkpoints/
fi

cat <<EOF

The kind cluster ${KIND_CLUSTER} is up and serves pods/checkpoint. Reach it with
  _output/bin/kubectl --kubeconfig=${KIND_KUBECONFIG} get nodes
run the e2e suite on it with: make test-e2e-kind
tear it down with: make kind-down
EOF
