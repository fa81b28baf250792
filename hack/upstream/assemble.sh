#!/usr/bin/env bash
# Assembles kubernetes/kubernetes at v1.37.2 from the Go module cache into a
# git work tree: k8s.io/kubernetes@v1.37.2 at the root and every staging
# module k8s.io/<name>@v0.37.2 under staging/src/k8s.io/<name>, as the
# repository lays them out (go.work and go.mod's replace directives point
# there). The module zips leave out vendor/ and the nested modules; nothing
# else differs from the tag's tree for what the series touches.
#
# usage: hack/upstream/assemble.sh DIR
set -o errexit -o nounset -o pipefail

KUBE_VERSION=v1.37.2
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
dest=${1:?usage: assemble.sh DIR}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${ROOT}"

kube=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[[ -d "${kube}" ]] || { echo "k8s.io/kubernetes@${KUBE_VERSION} is not in the module cache" >&2; exit 1; }

rm -rf "${dest}"
mkdir -p "$(dirname "${dest}")"
cp -r "${kube}" "${dest}"
chmod -R u+w "${dest}"
# go.work names every staging module; fetch each through the module cache.
# The sample modules (sample-apiserver, sample-cli-plugin, sample-controller)
# are examples nothing imports; where the proxy does not serve one, it leaves
# the workspace (go.work only, which the series does not touch).
for dir in $(sed -n 's|^\t\./staging/src/\(k8s.io/[a-z0-9-]*\)$|\1|p' "${dest}/go.work"); do
	src=$( (go mod download -json "${dir}@${STAGING_VERSION}" || true) | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	if [[ ! -d "${src}" && "${dir}" == k8s.io/sample-* ]]; then
		echo "+++ [upstream] ${dir}@${STAGING_VERSION} is not served: left out of go.work"
		sed -i "\|^\t\./staging/src/${dir}\$|d" "${dest}/go.work"
		continue
	fi
	[[ -d "${src}" ]] || { echo "${dir}@${STAGING_VERSION} is not in the module cache" >&2; exit 1; }
	mkdir -p "${dest}/staging/src/k8s.io"
	cp -r "${src}" "${dest}/staging/src/${dir}"
	chmod -R u+w "${dest}/staging/src/${dir}"
done

cd "${dest}"
# Module zips keep no file modes: the repository's scripts are executable.
find . -name '*.sh' -exec chmod +x {} +
git init -q
# A few testdata files hold CRLF line ends that the repository's
# .gitattributes (eol=lf) would rewrite: keep them byte for byte.
echo '* -text' > .git/info/attributes
git add -A
git -c user.name=kube-checkpoint -c user.email=kube-checkpoint@localhost \
	commit -q --no-gpg-sign -m "kubernetes ${KUBE_VERSION} from the Go module cache"
git tag "${KUBE_VERSION}"
