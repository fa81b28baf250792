#!/usr/bin/env bash
# make release: what an operator installs, into _output/release/, from a
# clean tree and reproducibly (the same commit and Go give the same bytes):
#   kube-apiserver_<version>.oci.tar  kube-apiserver for linux/amd64 and
#                                     linux/arm64, one OCI image index, tagged
#                                     ${IMAGE_REPOSITORY}/kube-apiserver:<version>
#   kubectl-checkpoint_<version>_<os>_<arch>.tar.gz (.zip for windows)
#                                     the plugin with LICENSE, for linux, darwin
#                                     and windows on amd64 and arm64
#   checkpoint.yaml                   the krew manifest of those archives
#   rbac-team.yaml                    a team's RoleBinding to system:pod-checkpointer
#   SHA256SUMS                        of every file above
# The version is the file VERSION (v1.37.2-checkpoint.N), which CHANGELOG.md
# must have a section for; the binaries say v1.37.2+checkpoint.N.
# RELEASE_DIRTY=true builds from a tree with changes (stamped dirty), for
# trying it out; IMAGE_REPOSITORY names the image (default kube-checkpoint.local).
set -o errexit -o nounset -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${ROOT}"

VERSION=$(cat VERSION)
if [[ ! "${VERSION}" =~ ^(v[0-9]+\.[0-9]+\.[0-9]+)-checkpoint\.([0-9]+)$ ]]; then
	echo "make release: VERSION is ${VERSION}, want v<kubernetes version>-checkpoint.<N>" >&2
	exit 1
fi
KUBE_VERSION=${BASH_REMATCH[1]}
BINARY_VERSION="${KUBE_VERSION}+checkpoint.${BASH_REMATCH[2]}"
if ! grep -q "^## ${VERSION} " CHANGELOG.md; then
	echo "make release: CHANGELOG.md has no section \"## ${VERSION} (...)\"" >&2
	exit 1
fi
if ! grep -q "^KUBE_VERSION := ${KUBE_VERSION}\$" Makefile; then
	echo "make release: VERSION ${VERSION} is not on the Kubernetes version the Makefile builds on" >&2
	exit 1
fi
tree_state=clean
if [[ -n "$(git status --porcelain)" ]]; then
	if [[ "${RELEASE_DIRTY:-false}" != true ]]; then
		echo "make release: the tree has changes (git status); commit them, or set RELEASE_DIRTY=true to try it out" >&2
		exit 1
	fi
	tree_state=dirty
fi
commit=$(git rev-parse HEAD)
date=$(TZ=UTC git show -s --format=%cd --date=format-local:'%Y-%m-%dT%H:%M:%SZ' HEAD)
major=${KUBE_VERSION#v}
major=${major%%.*}
minor=${KUBE_VERSION#v*.}
minor=${minor%%.*}
pkg=k8s.io/component-base/version
ldflags="-s -w -buildid= -X ${pkg}.gitMajor=${major} -X ${pkg}.gitMinor=${minor} -X ${pkg}.gitVersion=${BINARY_VERSION}
 -X ${pkg}.gitCommit=${commit} -X ${pkg}.gitTreeState=${tree_state} -X ${pkg}.buildDate=${date}"

OUT="${ROOT}/_output/release"
BUILD="${ROOT}/_output/release-build"
rm -rf "${OUT}" "${BUILD}"
mkdir -p "${OUT}" "${BUILD}"
# What test/release needs to check the release, and to build a binary again.
echo "${VERSION}" >"${BUILD}/version"
echo "${ldflags}" | tr '\n' ' ' >"${BUILD}/ldflags"
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
build() { # os arch out package
	echo "+++ [release] ${4##*/} for $1/$2"
	GOOS=$1 GOARCH=$2 go build -trimpath -ldflags "${ldflags}" -o "$3" "$4"
}
for platform in $(go run ./hack/release -platforms); do
	build "${platform%/*}" "${platform#*/}" "${BUILD}/kubectl-checkpoint-${platform%/*}-${platform#*/}" \
		github.com/kube-checkpoint/kubectl/cmd/kubectl-checkpoint
done
image="${IMAGE_REPOSITORY:-kube-checkpoint.local}/kube-apiserver:${VERSION}"
spec=()
for arch in amd64 arm64; do
	build linux "${arch}" "${BUILD}/kube-apiserver-linux-${arch}" ./cmd/kube-apiserver
	spec+=("{\"names\": [\"${image}\"], \"arch\": \"${arch}\", \"files\": {\"/usr/local/bin/kube-apiserver\": \"${BUILD}/kube-apiserver-linux-${arch}\"},
 \"env\": [\"PATH=/usr/local/bin:/usr/bin:/bin\"], \"entrypoint\": [\"/usr/local/bin/kube-apiserver\"]}")
done
echo "+++ [release] ${image} (linux/amd64, linux/arm64)"
(
	IFS=,
	echo "[${spec[*]}]"
) >"${BUILD}/image.json"
go run ./test/images/build -spec "${BUILD}/image.json" -out "${OUT}/kube-apiserver_${VERSION}.oci.tar"
cp deploy/rbac-team.yaml "${OUT}/rbac-team.yaml"
echo "+++ [release] archives, checkpoint.yaml (krew) and SHA256SUMS"
go run ./hack/release -version "${VERSION}" -bin "${BUILD}" -license LICENSE -date "${date}" -out "${OUT}"
echo "${image}" >"${BUILD}/image"
ls -l "${OUT}"
