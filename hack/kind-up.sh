#!/usr/bin/env bash
# Creates a kind cluster for the e2e suite on a machine with Docker: a node
# image with CRIU >= 4.2, this project's kube-apiserver with
# ContainerCheckpointAPI on in place of kind's, and the test image loaded on
# every node. Then: KUBECONFIG=$(kind get kubeconfig-path) make test-e2e \
#   E2E_ARGS=--image-pull-policy=Never
#
# NOT VERIFIED on the project's own machines, which have no Docker engine; the
# local cluster of hack/local-up.sh is what CI runs.
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER=${KIND_CLUSTER_NAME:-kube-checkpoint}
NODE_IMAGE=kube-checkpoint.local/kind-node:v1.37.2
APISERVER_IMAGE=kube-checkpoint.local/kube-apiserver:v1.37.2
OUT="${ROOT}/_output"

make -C "${ROOT}" build images
docker build -t "${NODE_IMAGE}" -f "${ROOT}/hack/kind/node.Dockerfile" "${ROOT}/hack/kind"
docker build -t "${APISERVER_IMAGE}" -f "${ROOT}/hack/kind/apiserver.Dockerfile" "${OUT}/bin"

kind create cluster --name "${CLUSTER}" --image "${NODE_IMAGE}" --config "${ROOT}/hack/kind/config.yaml"
kind load docker-image --name "${CLUSTER}" "${APISERVER_IMAGE}"
for node in $(kind get nodes --name "${CLUSTER}"); do
	docker exec -i "${node}" ctr -n k8s.io images import - < "${OUT}/images/counter.tar"
done

# The static pod of kind's apiserver: this project's image, the gate on. The
# kubelet restarts it when the manifest changes.
docker exec "${CLUSTER}-control-plane" sed -i \
	-e "s#image: .*kube-apiserver.*#image: ${APISERVER_IMAGE}#" \
	-e 's#- kube-apiserver$#- kube-apiserver\n    - --feature-gates=ContainerCheckpointAPI=true#' \
	/etc/kubernetes/manifests/kube-apiserver.yaml
until kubectl --context "kind-${CLUSTER}" get --raw /api/v1 2>/dev/null | grep -q '"pods/checkpoint"'; do
	sleep 2
done
echo "kind cluster ${CLUSTER} serves pods/checkpoint; run: KUBECONFIG=\$HOME/.kube/config make test-e2e"
