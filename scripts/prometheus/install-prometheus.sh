#!/usr/bin/env bash
# Builds Prometheus's binaries from the pinned github.com/prometheus/prometheus
# Go module (no prebuilt downloads or registries exist on our machines) into
#   ${DAT_CACHE:-~/.cache/dat-operator}/prometheus/<PROMETHEUS_TOOLS_REV>/bin
#
#   promtool    checks the Grafana dashboard's PromQL (test/charts/)
#   prometheus  the server the kind e2e suite runs in the cluster (images/prometheus.Dockerfile);
#               without the builtinassets tag the web UI is left out, the HTTP API is all there
#
# Both are built with -tags remove_all_sd,enable_kubernetes_sd: service discovery
# is cut down to file, http, static and kubernetes (the one the suite uses), which
# saves compiling twenty cloud SDKs, and the two share every compiled package.
#
# Usage: install-prometheus.sh [promtool] [prometheus]   (default: both)
# Idempotent: a binary whose stamp matches is not rebuilt. Bump
# PROMETHEUS_TOOLS_REV in versions.env when a version or a flag below changes.
# Prints the bin folder on stdout.
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${SCRIPT_DIR}/versions.env"
readonly BIN_DIR="${DAT_CACHE:-${HOME}/.cache/dat-operator}/prometheus/${PROMETHEUS_TOOLS_REV}/bin"
readonly MODULE=github.com/prometheus/prometheus
readonly TAGS=remove_all_sd,enable_kubernetes_sd

log() { printf 'install-prometheus: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

targets=()
for a in "$@"; do
  case "$a" in
    promtool | prometheus) targets+=("$a") ;;
    *) die "unknown argument $a (usage: install-prometheus.sh [promtool] [prometheus])" ;;
  esac
done
[[ ${#targets[@]} -gt 0 ]] || targets=(promtool prometheus)

stamp_of() { echo "${BIN_DIR}/.$1.installed"; }
current() { [[ -x "${BIN_DIR}/$1" && -f "$(stamp_of "$1")" && "$(cat "$(stamp_of "$1")")" == "${PROMETHEUS_MODULE_VERSION}" ]]; }

build() {
  local name="$1" t=${SECONDS}
  command -v go >/dev/null || die "the Go toolchain (go >= 1.26) is required"
  rm -f "$(stamp_of "${name}")"
  log "go install ${MODULE}/cmd/${name}@${PROMETHEUS_MODULE_VERSION} (Prometheus ${PROMETHEUS_VERSION}; tags: ${TAGS})"
  local v="github.com/prometheus/common/version"
  CGO_ENABLED=0 GOBIN="${BIN_DIR}" GOFLAGS=-buildvcs=false nice -n 10 go install -trimpath -tags "${TAGS}" \
    -ldflags "-s -w -X ${v}.Version=${PROMETHEUS_VERSION} -X ${v}.Revision=${PROMETHEUS_MODULE_VERSION} -X ${v}.Branch=module -X ${v}.BuildUser=dat-operator" \
    "${MODULE}/cmd/${name}@${PROMETHEUS_MODULE_VERSION}"
  "${BIN_DIR}/${name}" --version 2>&1 | grep -q "version ${PROMETHEUS_VERSION} " || die "${name} does not report version ${PROMETHEUS_VERSION}"
  printf '%s\n' "${PROMETHEUS_MODULE_VERSION}" > "$(stamp_of "${name}")"
  log "  ${name}: $((SECONDS - t)) s"
}

mkdir -p "${BIN_DIR}"
for t in "${targets[@]}"; do
  current "${t}" || build "${t}"
done
echo "${BIN_DIR}"
