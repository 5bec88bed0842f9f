#!/usr/bin/env bash
# Builds the kind node image dat-operator.local/kind-node:<K8S_VERSION> from
# local parts only (no registry is reachable on our machines):
#   - the base images of scripts/images/build-bases.sh (Debian packages);
#   - the Kubernetes toolchain (scripts/install-toolchain.sh) for kubelet,
#     kubeadm, kubectl and the control-plane images;
#   - the Go-built tools of scripts/kind/install-kind-tools.sh (CoreDNS, crictl,
#     kube-router, local-path-provisioner, pause);
#   - images/kind-node.Dockerfile and images/kind-node/files/.
# The control-plane and add-on images are built with the names kubeadm and the
# node's manifests expect and preloaded into the node's containerd.
# Idempotent: the image carries a hash of its inputs and is rebuilt only when
# they change. Prints the image name on stdout.
set -euo pipefail

readonly ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=versions.env
source "${ROOT}/scripts/kind/versions.env"
readonly CACHE="${DAT_CACHE:-${HOME}/.cache/dat-operator}"
readonly TOOLCHAIN_BIN="${DAT_TOOLCHAIN_DIR:-${CACHE}/toolchain}/$(tr -d '[:space:]' < "${ROOT}/scripts/toolchain/VERSION")/bin"
readonly TOOLS_BIN="${CACHE}/kind-tools/${KIND_TOOLS_REV}/bin"
readonly NODE_IMAGE="dat-operator.local/kind-node:${K8S_VERSION}"
readonly SUITE=trixie

log() { printf 'build-node-image: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Everything the image is made of, hashed: recipe files, pinned versions and the built inputs' identities.
inputs_hash() {
  {
    cat "${ROOT}/scripts/kind/versions.env" "${ROOT}/scripts/toolchain/VERSION" "${ROOT}/images/kind-node.Dockerfile" "${BASH_SOURCE[0]}" "${ROOT}/scripts/docker/runc-wrapper.sh"
    (cd "${ROOT}/images/kind-node" && find . -type f | LC_ALL=C sort | xargs sha256sum)
    for b in base-kind base-net; do docker image inspect --format '{{.Id}}' "dat-operator/${b}:${SUITE}"; done
  } | sha256sum | cut -c1-16
}

current_hash() { docker image inspect --format '{{ index .Config.Labels "dat-operator.inputs" }}' "${NODE_IMAGE}" 2>/dev/null || true; }

# Builds an image from a generated Dockerfile (stdin) and the context directory $1.
build_image() {
  local context="$1" tag="$2"; shift 2
  DOCKER_BUILDKIT=0 docker build -q -t "${tag}" "$@" -f - "${context}" >/dev/null
}

build_component_images() {
  local ctx="$1"
  log "component images (registry.k8s.io names, built from ${K8S_VERSION} and the pinned tools)"
  # One image answers as every control-plane component (the toolchain is one multi-call binary).
  build_image "${ctx}" "registry.k8s.io/kube-apiserver:${K8S_VERSION}" <<DOCKERFILE
FROM dat-operator/base-net:${SUITE}
COPY dat-toolchain /usr/local/bin/dat-toolchain
RUN for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy etcd etcdctl; do ln -s dat-toolchain /usr/local/bin/\$c; done
LABEL org.opencontainers.image.description="Kubernetes ${K8S_VERSION} control plane and etcd, built from the Go modules by dat-operator"
DOCKERFILE
  local c
  for c in kube-controller-manager kube-scheduler kube-proxy; do
    docker tag "registry.k8s.io/kube-apiserver:${K8S_VERSION}" "registry.k8s.io/${c}:${K8S_VERSION}"
  done
  docker tag "registry.k8s.io/kube-apiserver:${K8S_VERSION}" "registry.k8s.io/etcd:${ETCD_IMAGE_TAG}"
  build_image "${ctx}" "registry.k8s.io/coredns/coredns:${COREDNS_VERSION}" <<DOCKERFILE
FROM dat-operator/base-net:${SUITE}
COPY coredns /coredns
ENTRYPOINT ["/coredns"]
DOCKERFILE
  build_image "${ctx}" "registry.k8s.io/pause:${PAUSE_VERSION}" <<DOCKERFILE
FROM scratch
COPY pause /pause
USER 65535:65535
ENTRYPOINT ["/pause"]
DOCKERFILE
  build_image "${ctx}" "dat-operator.local/kube-router:${KUBE_ROUTER_VERSION}" <<DOCKERFILE
FROM dat-operator/base-net:${SUITE}
COPY kube-router /usr/local/bin/kube-router
ENTRYPOINT ["/usr/local/bin/kube-router"]
DOCKERFILE
  build_image "${ctx}" "dat-operator.local/local-path-provisioner:${LOCAL_PATH_VERSION}" <<DOCKERFILE
FROM dat-operator/base-net:${SUITE}
COPY local-path-provisioner /usr/local/bin/local-path-provisioner
DOCKERFILE
  docker tag "dat-operator/base-net:${SUITE}" "dat-operator.local/base-net:${SUITE}"
}

readonly PRELOAD=(
  "registry.k8s.io/kube-apiserver:${K8S_VERSION}" "registry.k8s.io/kube-controller-manager:${K8S_VERSION}"
  "registry.k8s.io/kube-scheduler:${K8S_VERSION}" "registry.k8s.io/kube-proxy:${K8S_VERSION}"
  "registry.k8s.io/etcd:${ETCD_IMAGE_TAG}" "registry.k8s.io/coredns/coredns:${COREDNS_VERSION}"
  "registry.k8s.io/pause:${PAUSE_VERSION}" "dat-operator.local/kube-router:${KUBE_ROUTER_VERSION}"
  "dat-operator.local/local-path-provisioner:${LOCAL_PATH_VERSION}" "dat-operator.local/base-net:${SUITE}"
)

# Imports the images into the node's containerd (k8s.io namespace, as the CRI
# sees them) in a build container, then commits it as the final image.
preload_and_commit() {
  local staging="$1" hash="$2" work="$3" name="dat-node-preload-$$"
  log "saving ${#PRELOAD[@]} images for preload"
  docker save -o "${work}/images.tar" "${PRELOAD[@]}"
  docker rm -f "${name}" >/dev/null 2>&1 || true
  log "importing them into the node's containerd"
  docker run --name "${name}" --privileged --tmpfs /run --tmpfs /tmp -v "${work}:/preload:ro" \
    --entrypoint /bin/bash "${staging}" -ec '
      containerd >/tmp/containerd.log 2>&1 &
      for i in $(seq 1 60); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
      ctr --namespace=k8s.io images import --all-platforms --no-unpack --digests /preload/images.tar
      ctr --namespace=k8s.io images ls -q
      kill %1; wait || true' >&2 || { docker rm -f "${name}" >/dev/null 2>&1; die "preloading images into containerd failed"; }
  # The staging image's STOPSIGNAL (SIGRTMIN+3, systemd's) carries over: commit cannot set it.
  docker commit \
    --change 'ENTRYPOINT ["/usr/local/bin/kind-node-entrypoint", "/sbin/init"]' \
    --change 'CMD []' \
    --change "LABEL dat-operator.inputs=${hash}" \
    "${name}" "${NODE_IMAGE}" >/dev/null
  docker rm -f "${name}" >/dev/null
}

main() {
  bash "${ROOT}/scripts/docker/start-dockerd.sh"
  bash "${ROOT}/scripts/install-toolchain.sh"
  bash "${ROOT}/scripts/kind/install-kind-tools.sh"
  bash "${ROOT}/scripts/images/build-bases.sh" base-kind base-net
  local hash; hash="$(inputs_hash)"
  if [[ "$(current_hash)" == "${hash}" ]]; then
    log "${NODE_IMAGE} is current (${hash})"
    echo "${NODE_IMAGE}"; return
  fi
  local started=${SECONDS} work
  work="$(mktemp -d "${CACHE}/kind-node-build.XXXXXX")"
  # shellcheck disable=SC2064 # expand now: work is local
  trap "rm -rf '${work}'" EXIT
  mkdir -p "${work}/ctx" "${work}/node/bin"
  cp "${TOOLCHAIN_BIN}/dat-toolchain" "${TOOLS_BIN}/coredns" "${TOOLS_BIN}/pause" "${TOOLS_BIN}/kube-router" "${TOOLS_BIN}/local-path-provisioner" "${work}/ctx/"
  build_component_images "${work}/ctx"
  rm -rf "${work}/ctx"

  log "node image ${NODE_IMAGE}"
  cp -r "${ROOT}/images/kind-node/files" "${work}/node/files"
  cp "${TOOLCHAIN_BIN}/dat-toolchain" "${TOOLS_BIN}/crictl" "${work}/node/bin/"
  install -m 0755 "${ROOT}/scripts/docker/runc-wrapper.sh" "${work}/node/bin/runc-wrapper"
  DOCKER_BUILDKIT=0 docker build -q -t "${NODE_IMAGE}-staging" --build-arg "BASE=dat-operator/base-kind:${SUITE}" \
    --build-arg "K8S_VERSION=${K8S_VERSION}" -f "${ROOT}/images/kind-node.Dockerfile" "${work}/node" >/dev/null
  rm -rf "${work}/node"
  preload_and_commit "${NODE_IMAGE}-staging" "${hash}" "${work}"
  docker rmi "${NODE_IMAGE}-staging" >/dev/null
  log "built ${NODE_IMAGE} (${hash}) in $((SECONDS - started)) s"
  echo "${NODE_IMAGE}"
}

main "$@"
