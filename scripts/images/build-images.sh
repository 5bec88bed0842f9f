#!/usr/bin/env bash
# Builds the project's container images with a local Docker engine:
#   ghcr.io/dat-operator/operator:<appVersion>   images/operator.Dockerfile
#   ghcr.io/dat-operator/worker:<appVersion>     images/worker.Dockerfile (tfjs-node inside)
#   ghcr.io/dat-operator/worker:<appVersion>-gpu images/worker-gpu.Dockerfile (tfjs-node-gpu with
#                                                the CUDA 11.8 / cuDNN 8.9 libraries from PyPI; ~4 GB)
#   dat-operator.local/prometheus:<version>      images/prometheus.Dockerfile: the Prometheus server of
#                                                scripts/prometheus/install-prometheus.sh on the base-net
#                                                base, for the kind e2e suite (not a project image)
# Each Dockerfile copies an application folder staged here (compiled dist/,
# production node_modules, for the worker the native TensorFlow binding built
# by scripts/install-tfjs-node.sh) onto a base image given as a build
# argument. No network is needed inside the build: our machines reach the npm
# registry and PyPI from the host only.
#
# Usage: build-images.sh [--base IMAGE] [operator] [worker] [worker-gpu] [prometheus]
#   (default: operator and worker)
#   --base IMAGE  runtime base with Node.js 20 at /usr/bin/node or on PATH
#                 (default: dat-operator/base-node20:trixie from build-bases.sh;
#                 with a registry, node:20-bookworm-slim works as well)
# Staged folders are cached under ${DAT_CACHE:-~/.cache/dat-operator}/images.
# DAT_IMAGES_SKIP_TSC=1: use dist/ as it is (the caller just compiled it).
set -euo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly CACHE="${DAT_CACHE:-${HOME}/.cache/dat-operator}/images"
readonly APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "${ROOT}/charts/dat-operator/Chart.yaml")"

log() { printf 'build-images: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

base=""
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --base) base="${2:?--base needs an image}"; shift ;;
    operator | worker | worker-gpu | prometheus) targets+=("$1") ;;
    *) die "unknown argument $1 (usage: build-images.sh [--base IMAGE] [operator] [worker] [worker-gpu] [prometheus])" ;;
  esac
  shift
done
[[ ${#targets[@]} -gt 0 ]] || targets=(operator worker)

# Production node_modules for a flavour, reinstalled only when the lockfile changes.
stage_modules() {
  local dir="$1"; shift
  local want stamp="${dir}/node_modules/.dat-lock-stamp"
  want="$(cat "${ROOT}/package-lock.json" "${ROOT}/package.json" | sha256sum | cut -d' ' -f1) $*"
  [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" ]] && return 0
  log "npm ci $* in ${dir}"
  rm -rf "${dir}/node_modules"
  cp "${ROOT}/package.json" "${ROOT}/package-lock.json" "${dir}/"
  (cd "${dir}" && npm ci --no-audit --no-fund --prefer-offline --ignore-scripts "$@" >/dev/null)
  printf '%s\n' "${want}" > "${stamp}"
}

# The application folder: dist/ (compiled here), bin/, proto/, package.json, node_modules.
stage_app() {
  local flavour="$1" dir="${CACHE}/stage-$1/app"
  mkdir -p "${dir}"
  case "${flavour}" in
    operator) stage_modules "${dir}" --omit=dev --omit=optional ;;
    worker)
      stage_modules "${dir}" --omit=dev
      # The CPU image carries no GPU package (its JS alone would only make `auto` try and log a fallback).
      rm -rf "${dir}/node_modules/@tensorflow/tfjs-node-gpu"
      # The native binding (cached by the script after the first build); a worker image without it would train on wasm.
      bash "${ROOT}/scripts/install-tfjs-node.sh" --project "${dir}" >&2
      node --input-type=module -e "process.chdir('${dir}'); await import('${dir}/node_modules/@tensorflow/tfjs-node/dist/index.js')" >/dev/null 2>&1 \
        || die "the staged worker has no loadable tfjs-node binding (see install-tfjs-node.sh's output above)"
      ;;
    worker-gpu)
      stage_modules "${dir}" --omit=dev
      # The GPU binding, libtensorflow with CUDA kernels and the CUDA/cuDNN libraries, hard-linked from the cache.
      local gpu="${CACHE}/stage-worker-gpu/gpu-runtime"
      rm -rf "${gpu}"
      bash "${ROOT}/scripts/images/stage-gpu-runtime.sh" "${gpu}" >&2 || die "staging the GPU runtime failed (see above)"
      rm -rf "${dir}/node_modules/@tensorflow/tfjs-node-gpu"
      cp -al "${gpu}/node_modules/@tensorflow/tfjs-node-gpu" "${dir}/node_modules/@tensorflow/"
      cp "${gpu}/dat-gpu-runtime.txt" "${dir}/"
      ;;
  esac
  rm -rf "${dir}/dist" "${dir}/bin" "${dir}/proto" "${dir}/native"
  mkdir -p "${dir}/dist"
  cp -r "${ROOT}/dist/common" "${ROOT}/dist/worker" "${ROOT}/dist/operator" "${dir}/dist/"
  cp -r "${ROOT}/bin" "${ROOT}/proto" "${dir}/"
  if [ "${flavour}" != operator ]; then
    # The codec kernels in C (worker/comm/native-kernels.ts loads them from /app/native/...).
    bash "${ROOT}/scripts/build-native-kernels.sh" >&2 || die "the native codec kernels did not build (see above)"
    mkdir -p "${dir}/native/kernels/build/Release"
    cp "${ROOT}/native/kernels/build/Release/dat_kernels.node" "${dir}/native/kernels/build/Release/"
  fi
  echo "${dir%/app}"
}

# The Prometheus server image: a static Go binary on the network base, no Node.js application.
build_prometheus() {
  local bin ctx="${CACHE}/stage-prometheus" started=${SECONDS} tag
  # shellcheck source=../prometheus/versions.env
  tag="dat-operator.local/prometheus:$(source "${ROOT}/scripts/prometheus/versions.env" && echo "${PROMETHEUS_VERSION}")"
  bin="$(bash "${ROOT}/scripts/prometheus/install-prometheus.sh" prometheus)"
  bash "${ROOT}/scripts/images/build-bases.sh" base-net
  rm -rf "${ctx}" && mkdir -p "${ctx}"
  cp "${bin}/prometheus" "${ctx}/"
  docker_build "${tag}" --build-arg "BASE=dat-operator/base-net:trixie" -f "${ROOT}/images/prometheus.Dockerfile" "${ctx}"
  log "built ${tag} in $((SECONDS - started)) s ($(docker image inspect --format '{{.Size}}' "${tag}" | awk '{printf "%.0f MB", $1/1e6}'))"
}

# Builds `tag` and then removes the image the tag pointed at before, if nothing uses it any more: every
# rebuild of a changed application otherwise leaves a dangling copy (4.5 GB for the GPU worker) in the
# Docker cache, and repeated test runs filled the disk.
docker_build() {
  local tag="$1" old new
  shift
  old="$(docker image inspect --format '{{.Id}}' "${tag}" 2>/dev/null || true)"
  DOCKER_BUILDKIT=0 docker build -q -t "${tag}" "$@" >/dev/null
  new="$(docker image inspect --format '{{.Id}}' "${tag}")"
  if [[ -n "${old}" && "${old}" != "${new}" ]]; then docker rmi "${old}" >/dev/null 2>&1 || true; fi
}

main() {
  bash "${ROOT}/scripts/docker/start-dockerd.sh"
  local t context tag started node_targets=()
  for t in "${targets[@]}"; do
    if [[ "${t}" == prometheus ]]; then build_prometheus; else node_targets+=("${t}"); fi
  done
  [[ ${#node_targets[@]} -gt 0 ]] || return 0
  if [[ -z "${base}" ]]; then
    bash "${ROOT}/scripts/images/build-bases.sh" base-node20
    base="dat-operator/base-node20:trixie"
  fi
  bash "${ROOT}/scripts/ensure-npm.sh" >&2
  if [[ "${DAT_IMAGES_SKIP_TSC:-0}" != 1 ]]; then
    log "compiling (tsc)"
    (cd "${ROOT}" && npx tsc -p tsconfig.json)
  fi
  for t in "${node_targets[@]}"; do
    started=${SECONDS}
    context="$(stage_app "${t}")"
    tag="ghcr.io/dat-operator/${t%-gpu}:${APP_VERSION}"
    [[ "${t}" == *-gpu ]] && tag+="-gpu"
    docker_build "${tag}" --build-arg "BASE=${base}" -f "${ROOT}/images/${t}.Dockerfile" "${context}"
    log "built ${tag} on ${base} in $((SECONDS - started)) s ($(docker image inspect --format '{{.Size}}' "${tag}" | awk '{printf "%.0f MB", $1/1e6}'))"
  done
}

main
