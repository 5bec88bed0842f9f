#!/usr/bin/env bash
# Builds the Go programs a kind cluster needs beyond the Kubernetes toolchain
# (scripts/install-toolchain.sh), each from its pinned Go module (no prebuilt
# downloads or registries exist on our machines), into
#   ${DAT_CACHE:-~/.cache/dat-operator}/kind-tools/<KIND_TOOLS_REV>/bin
#
#   kind                    sigs.k8s.io/kind: creates the cluster
#   coredns                 the cluster DNS kubeadm deploys (its pinned version for Kubernetes 1.34)
#   crictl                  sigs.k8s.io/cri-tools: the node's CRI client
#   kube-router             NetworkPolicy enforcement and pod routing (iptables + ipset)
#   local-path-provisioner  the default StorageClass (PVCs on the node's disk)
#   pause                   the pod sandbox (scripts/kind/pause)
#
# Idempotent: does nothing when the stamp matches. Bump KIND_TOOLS_REV when a
# version or a flag below changes.
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
readonly BIN_DIR="${DAT_CACHE:-${HOME}/.cache/dat-operator}/kind-tools/${KIND_TOOLS_REV}/bin"
readonly STAMP="${BIN_DIR}/.installed"

log() { printf 'install-kind-tools: %s\n' "$*" >&2; }

[[ -f "${STAMP}" && "$(cat "${STAMP}")" == "${KIND_TOOLS_REV}" ]] && exit 0
command -v go >/dev/null || { log "error: the Go toolchain (go >= 1.24) is required"; exit 1; }

mkdir -p "${BIN_DIR}"
rm -f "${STAMP}"
export CGO_ENABLED=0 GOBIN="${BIN_DIR}" GOFLAGS=-buildvcs=false
started=${SECONDS}
build() {
  local what="$1"; shift
  local t=${SECONDS}
  log "go install ${what}"
  go install -trimpath "$@"
  log "  ${what}: $((SECONDS - t)) s"
}
build "kind ${KIND_VERSION}" -ldflags "-s -w" "sigs.k8s.io/kind@${KIND_VERSION}"
build "crictl ${CRICTL_VERSION}" -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${CRICTL_VERSION}" "sigs.k8s.io/cri-tools/cmd/crictl@${CRICTL_VERSION}"
build "coredns ${COREDNS_VERSION}" -ldflags "-s -w" "github.com/coredns/coredns@${COREDNS_VERSION}"
build "kube-router ${KUBE_ROUTER_VERSION}" -ldflags "-s -w -X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=${KUBE_ROUTER_VERSION}" "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@${KUBE_ROUTER_VERSION}"
build "local-path-provisioner ${LOCAL_PATH_VERSION}" -ldflags "-s -w -X main.VERSION=${LOCAL_PATH_VERSION}" "github.com/rancher/local-path-provisioner@${LOCAL_PATH_VERSION}"
log "go build pause ${PAUSE_VERSION}"
(cd "${SCRIPT_DIR}/pause" && go build -trimpath -ldflags "-s -w -X main.version=${PAUSE_VERSION}" -o "${BIN_DIR}/pause" .)

"${BIN_DIR}/kind" version | grep -q "kind ${KIND_VERSION} " || { log "error: kind does not report ${KIND_VERSION}"; exit 1; }
printf '%s\n' "${KIND_TOOLS_REV}" > "${STAMP}"
log "done in $((SECONDS - started)) s: ${BIN_DIR}"
