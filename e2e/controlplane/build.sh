#!/usr/bin/env bash
# Builds the control plane that Skylark's end-to-end tests run: etcd,
# kube-apiserver and kube-controller-manager, from the Go modules pinned in
# go.mod, into a cache folder outside the repository keyed by the pinned
# release. A second run finds the binaries there and does nothing.
#
#   bash e2e/controlplane/build.sh          # build if missing, print the bin dir
#   SKYLARK_E2E_CACHE=/some/dir bash ...    # cache root (default ~/.cache/skylark-e2e)
#
# No kube-scheduler: the tests run one node agent, which binds pending Pods to
# its own Node through the same pods/binding API the scheduler uses.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Keep in step with go.mod and with e2e/src/binaries.rs.
K8S_VERSION=v1.35.4
ETCD_VERSION=v3.6.5
cache_root="${SKYLARK_E2E_CACHE:-${HOME:-/root}/.cache/skylark-e2e}"
bin="${cache_root}/k8s-${K8S_VERSION}-etcd-${ETCD_VERSION}/bin"
binaries=(etcd kube-apiserver kube-controller-manager)

have_all() {
    local b
    for b in "${binaries[@]}"; do
        [[ -x "${bin}/${b}" ]] || return 1
    done
}

if have_all; then
    echo "control plane already built: ${bin}" >&2
    echo "${bin}"
    exit 0
fi

command -v go >/dev/null || { echo "build.sh: Go is not installed (need Go >= 1.25)" >&2; exit 1; }
echo "building the control plane (Kubernetes ${K8S_VERSION}, etcd ${ETCD_VERSION}) into ${bin}; the first build takes many minutes" >&2

# Build into a scratch folder beside the cache and move the finished binaries in,
# so an interrupted build never leaves a half-written binary that looks done.
mkdir -p "${bin}"
scratch="$(mktemp -d "${bin}/../build.XXXXXX")"
trap 'rm -rf "${scratch}"' EXIT

version_pkg=k8s.io/component-base/version
minor="${K8S_VERSION#v1.}"
minor="${minor%%.*}"
ldflags="-s -w -X ${version_pkg}.gitVersion=${K8S_VERSION} -X ${version_pkg}.gitMajor=1 -X ${version_pkg}.gitMinor=${minor} -X ${version_pkg}.gitTreeState=clean"

cd "${here}"
export GOFLAGS="-mod=readonly -trimpath -buildvcs=false"
export CGO_ENABLED=0
# Nice'd: CI and developers share two cores with other work.
time nice -n 10 go build -ldflags "${ldflags}" -o "${scratch}/" \
    ./etcd \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager

for b in "${binaries[@]}"; do
    [[ -x "${scratch}/${b}" ]] || { echo "build.sh: ${b} was not built" >&2; exit 1; }
    mv -f "${scratch}/${b}" "${bin}/${b}"
done
echo "control plane built: ${bin}" >&2
echo "${bin}"
