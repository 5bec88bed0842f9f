#!/usr/bin/env bash
# Builds the scheduler-plugins commands from their Go module
# (sigs.k8s.io/scheduler-plugins, pinned in scripts/scheduler-plugins/go.mod):
#   scheduler   a kube-scheduler with the out-of-tree plugins (Coscheduling)
#   controller  the PodGroup controller (keeps PodGroup status: phase, counts)
# into ${DAT_CACHE:-~/.cache/dat-operator}/scheduler-plugins/<version>/bin/ and
# prints that directory. Idempotent: binaries stamped with the pinned version
# are reused. The PodGroup CRD comes from the same module in the Go module
# cache: `go list -m -f '{{.Dir}}' sigs.k8s.io/scheduler-plugins` (run in
# scripts/scheduler-plugins), manifests/coscheduling/crd.yaml.
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly MODULE_DIR="${SCRIPT_DIR}/scheduler-plugins"
readonly VERSION="$(sed -n 's/^require sigs.k8s.io\/scheduler-plugins \(v[^ ]*\)$/\1/p' "${MODULE_DIR}/go.mod")"
# The Kubernetes release the commands are built from (the replace of k8s.io/kubernetes).
readonly KUBE_VERSION="$(sed -n 's/^[[:space:]]*k8s.io\/kubernetes => k8s.io\/kubernetes \(v[^ ]*\)$/\1/p' "${MODULE_DIR}/go.mod")"
readonly BIN_DIR="${DAT_CACHE:-${HOME}/.cache/dat-operator}/scheduler-plugins/${VERSION}/bin"
readonly COMMANDS=(scheduler controller)
# What a cached binary must have been built from.
readonly STAMP="${VERSION} on Kubernetes ${KUBE_VERSION}"

log() { printf 'install-scheduler-plugins: %s\n' "$*" >&2; }

[[ -n "${VERSION}" ]] || { log "error: no sigs.k8s.io/scheduler-plugins version in ${MODULE_DIR}/go.mod"; exit 1; }
[[ -n "${KUBE_VERSION}" ]] || { log "error: no k8s.io/kubernetes replace in ${MODULE_DIR}/go.mod"; exit 1; }

up_to_date() {
  local cmd
  for cmd in "${COMMANDS[@]}"; do
    [[ -x "${BIN_DIR}/${cmd}" && -f "${BIN_DIR}/${cmd}.version" && "$(cat "${BIN_DIR}/${cmd}.version")" == "${STAMP}" ]] || return 1
  done
}

if up_to_date; then
  echo "${BIN_DIR}"
  exit 0
fi
command -v go >/dev/null || { log "error: the Go toolchain (go >= 1.25) is required"; exit 1; }
mkdir -p "${BIN_DIR}"
cd "${MODULE_DIR}"
for cmd in "${COMMANDS[@]}"; do
  start_s=${SECONDS}
  log "go build sigs.k8s.io/scheduler-plugins/cmd/${cmd} ${VERSION} (a cold build takes minutes)"
  # The binary version is the Kubernetes one: component-base derives the
  # compatibility range from it, and upstream's stamp (v0.34.7, read as
  # Kubernetes 0.34) makes the scheduler refuse to start ("emulation version
  # 0.34 is not between [1.31, 0.34.0]").
  CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
    -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=${KUBE_VERSION}" \
    -o "${BIN_DIR}/${cmd}.tmp" "sigs.k8s.io/scheduler-plugins/cmd/${cmd}"
  mv -f "${BIN_DIR}/${cmd}.tmp" "${BIN_DIR}/${cmd}"
  printf '%s\n' "${STAMP}" > "${BIN_DIR}/${cmd}.version"
  log "built ${cmd} in $((SECONDS - start_s)) s"
done
echo "${BIN_DIR}"
