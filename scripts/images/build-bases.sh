#!/usr/bin/env bash
# Builds the project's base images from Debian packages (debootstrap, then
# `docker import`), for machines that reach Debian's archive but no container
# registry. A user with a registry can skip this and pass public bases to
# scripts/images/build-images.sh instead.
#
#   dat-operator/base-node20:trixie   Node.js 20 (Debian's): operator and worker images
#   dat-operator/base-net:trixie      iptables, ipset, iproute2, conntrack: Kubernetes
#                                     component images (kube-proxy, kube-router, ...)
#   dat-operator/base-kind:trixie     systemd, containerd, runc, CNI plugins: the kind node
#
# Each image is labelled with a hash of its recipe (suite, variant, packages,
# this script's BASES_REVISION) and rebuilt only when that changes; rootfs
# tarballs are cached under ${DAT_CACHE:-~/.cache/dat-operator}/bases.
# Usage: build-bases.sh [NAME...]   (default: all)
set -euo pipefail

readonly BASES_REVISION=1
readonly SUITE="${DAT_DEBIAN_SUITE:-trixie}"
readonly MIRROR="${DAT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
readonly CACHE="${DAT_CACHE:-${HOME}/.cache/dat-operator}/bases"

declare -A PACKAGES=(
  [base-node20]="ca-certificates nodejs procps"
  [base-net]="ca-certificates iptables ipset iproute2 conntrack nftables kmod procps"
  [base-kind]="ca-certificates systemd systemd-sysv dbus containerd runc containernetworking-plugins iptables ipset nftables conntrack iproute2 ethtool socat util-linux mount kmod procps libseccomp2 findutils hostname jq"
)
readonly ALL=(base-node20 base-net base-kind)

# shellcheck source=../lib/apt-packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/apt-packages.sh"

log() { printf 'build-bases: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

recipe_hash() {
  printf '%s\n' "${BASES_REVISION}" "${SUITE}" "${MIRROR}" "minbase" "${PACKAGES[$1]}" | sha256sum | cut -c1-16
}

image_current() {
  local name="$1" hash="$2"
  [[ "$(docker image inspect --format '{{ index .Config.Labels "dat-operator.recipe" }}' "dat-operator/${name}:${SUITE}" 2>/dev/null)" == "${hash}" ]]
}

build_one() {
  local name="$1" hash tarball root
  hash="$(recipe_hash "${name}")"
  image_current "${name}" "${hash}" && { log "dat-operator/${name}:${SUITE} is current (${hash})"; return; }
  tarball="${CACHE}/${name}-${hash}.tar"
  if [[ ! -f "${tarball}" ]]; then
    ensure_commands build-bases debootstrap:debootstrap
    root="$(mktemp -d "${CACHE}/${name}.XXXXXX")"
    # shellcheck disable=SC2064 # the path is fixed now
    trap "rm -rf '${root}' '${root}.log'" EXIT
    log "debootstrap ${SUITE} for ${name}: ${PACKAGES[$name]}"
    local started=${SECONDS}
    debootstrap --variant=minbase --include="${PACKAGES[$name]// /,}" "${SUITE}" "${root}" "${MIRROR}" > "${root}.log" 2>&1 \
      || { tail -n 30 "${root}.log" >&2; die "debootstrap of ${name} failed (log: ${root}.log)"; }
    # What an image does not need: downloaded packages, package lists, docs and locales.
    rm -rf "${root}"/var/cache/apt/archives/*.deb "${root}"/var/lib/apt/lists/* "${root}"/usr/share/doc/* "${root}"/usr/share/man/* "${root}"/usr/share/locale/* "${root}"/var/log/*.log
    # Containers get their own; an image must not ship the build host's.
    : > "${root}/etc/machine-id"; rm -f "${root}/etc/hostname" "${root}/etc/resolv.conf"
    tar --numeric-owner -C "${root}" -cf "${tarball}.tmp" . && mv -f "${tarball}.tmp" "${tarball}"
    rm -rf "${root}" "${root}.log"
    trap - EXIT
    log "${name} rootfs built in $((SECONDS - started)) s"
  fi
  docker import \
    --change "LABEL dat-operator.recipe=${hash}" \
    --change "LABEL org.opencontainers.image.description=\"dat-operator ${name}: Debian ${SUITE} minbase with ${PACKAGES[$name]}\"" \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    "${tarball}" "dat-operator/${name}:${SUITE}" >/dev/null
  log "imported dat-operator/${name}:${SUITE} (${hash})"
}

mkdir -p "${CACHE}"
names=("$@"); [[ ${#names[@]} -gt 0 ]] || names=("${ALL[@]}")
for n in "${names[@]}"; do
  [[ -n "${PACKAGES[$n]:-}" ]] || die "unknown base ${n} (known: ${ALL[*]})"
  build_one "${n}"
done
