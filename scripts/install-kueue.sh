#!/usr/bin/env bash
# Builds Kueue's controller manager from its Go module (sigs.k8s.io/kueue,
# pinned in scripts/kueue/go.mod) into
#   ${DAT_CACHE:-~/.cache/dat-operator}/kueue/<version>/bin/kueue
# and prints that path. Idempotent: a binary reporting the pinned version is
# reused. The manifests (config/) come from the same module in the Go module
# cache: `go list -m -f '{{.Dir}}' sigs.k8s.io/kueue` (run in scripts/kueue).
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly MODULE_DIR="${SCRIPT_DIR}/kueue"
readonly KUEUE_VERSION="v0.17.0"
readonly BIN_DIR="${DAT_CACHE:-${HOME}/.cache/dat-operator}/kueue/${KUEUE_VERSION}/bin"
readonly BIN="${BIN_DIR}/kueue"

log() { printf 'install-kueue: %s\n' "$*" >&2; }

if [[ -x "${BIN}" && -f "${BIN}.version" && "$(cat "${BIN}.version")" == "${KUEUE_VERSION}" ]]; then
  echo "${BIN}"
  exit 0
fi
command -v go >/dev/null || { log "error: the Go toolchain (go >= 1.25) is required"; exit 1; }
mkdir -p "${BIN_DIR}"
cd "${MODULE_DIR}"
start_s=${SECONDS}
log "go build sigs.k8s.io/kueue/cmd/kueue ${KUEUE_VERSION} (cold build takes a while)"
# Kueue's own Makefile stamps the version the same way (pkg/version).
CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
  -ldflags "-s -w -X sigs.k8s.io/kueue/pkg/version.GitVersion=${KUEUE_VERSION}" \
  -o "${BIN}.tmp" sigs.k8s.io/kueue/cmd/kueue
mv -f "${BIN}.tmp" "${BIN}"
printf '%s\n' "${KUEUE_VERSION}" > "${BIN}.version"
log "built in $((SECONDS - start_s)) s: ${BIN}"
echo "${BIN}"
