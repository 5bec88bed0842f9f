#!/usr/bin/env bash
# Makes a Docker engine that can run kind's privileged node containers
# available, idempotently:
#   1. installs Debian's docker.io (and jq, which the runc wrapper uses) when
#      dockerd is missing;
#   2. installs scripts/docker/runc-wrapper.sh as the engine's default runtime,
#      so privileged containers work on hosts whose capability bounding set
#      lacks a capability (see the wrapper);
#   3. starts dockerd with its data under ${DAT_CACHE}/docker (images survive
#      between runs: the build cache of scripts/images/) and waits for it.
# An engine that is already answering is used as it is when it runs the wrapper
# (or needs none); one that cannot run privileged containers is an error that
# says what to do.
# Environment: DAT_CACHE (default ~/.cache/dat-operator), DOCKER_HOST is left alone.
set -euo pipefail

readonly SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly CACHE="${DAT_CACHE:-${HOME}/.cache/dat-operator}"
readonly DOCKER_DIR="${CACHE}/docker"
readonly RUNTIME_NAME="dat-runc"
readonly WRAPPER="${DOCKER_DIR}/bin/runc-wrapper"
readonly LOG="${DOCKER_DIR}/dockerd.log"

log() { printf 'start-dockerd: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# 1. Packages.
# shellcheck source=../lib/apt-packages.sh
source "${SCRIPT_DIR}/../lib/apt-packages.sh"
ensure_commands start-dockerd dockerd:docker.io runc:runc jq:jq

# True when the CAP_SYS_RESOURCE-style gap exists: some capability is missing from the bounding set.
needs_wrapper() {
  local bnd last
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  last="$(cat /proc/sys/kernel/cap_last_cap)"
  (( bnd != (1 << (last + 1)) - 1 ))
}

engine_up() { docker info >/dev/null 2>&1; }

# 2. An engine that already answers: use it if it can run privileged containers.
if engine_up; then
  default_runtime="$(docker info --format '{{.DefaultRuntime}}' 2>/dev/null || true)"
  if [[ "${default_runtime}" == "${RUNTIME_NAME}" ]] || ! needs_wrapper; then
    exit 0
  fi
  die "a Docker engine is running with default runtime '${default_runtime}', but this host's capability bounding set lacks capabilities, so privileged containers (kind nodes) fail with 'unable to apply caps'. Stop it and rerun this script, or restart it with: dockerd --add-runtime ${RUNTIME_NAME}=${WRAPPER} --default-runtime ${RUNTIME_NAME}"
fi

[[ "$(id -u)" == 0 ]] || die "no Docker engine answers, and starting one needs root (sudo bash $0)"

# 3. The wrapper, copied out of the checkout so the engine does not depend on this clone.
mkdir -p "${DOCKER_DIR}/bin" "${DOCKER_DIR}/root" "${DOCKER_DIR}/exec"
install -m 0755 "${SCRIPT_DIR}/runc-wrapper.sh" "${WRAPPER}"

# cgroup v1 hosts with no init system mount no systemd hierarchy; docker and kind's nodes expect one.
if [[ ! -f /sys/fs/cgroup/cgroup.controllers && ! -d /sys/fs/cgroup/systemd ]]; then
  mkdir -p /sys/fs/cgroup/systemd
  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
fi

log "starting dockerd (data: ${DOCKER_DIR}/root, log: ${LOG})"
args=(--data-root "${DOCKER_DIR}/root" --exec-root "${DOCKER_DIR}/exec" --pidfile "${DOCKER_DIR}/dockerd.pid")
if needs_wrapper; then
  args+=(--add-runtime "${RUNTIME_NAME}=${WRAPPER}" --default-runtime "${RUNTIME_NAME}")
fi
# setsid: the engine outlives this script (and the test run that started it).
setsid dockerd "${args[@]}" >>"${LOG}" 2>&1 < /dev/null &

for _ in $(seq 1 60); do
  engine_up && { log "dockerd is up ($(docker version --format '{{.Server.Version}}'))"; exit 0; }
  sleep 1
done
tail -n 20 "${LOG}" >&2 || true
die "dockerd did not answer within 60 s (log: ${LOG})"
