#!/usr/bin/env bash
# The e2e kind cluster, built and run entirely from local parts.
#
#   cluster.sh up [--recreate]   starts the Docker engine (scripts/docker), builds
#                                what is missing (node image, operator and worker
#                                images, the Prometheus image the e2e suite runs;
#                                cached), creates the cluster unless it
#                                exists (--recreate: delete it first), waits until
#                                the node and the system pods are Ready, and loads
#                                the project's images into the node
#   cluster.sh down              deletes the cluster
#   cluster.sh kubeconfig        prints the kubeconfig path
#
# Environment: KIND_CLUSTER_NAME (default dat-e2e), DAT_CACHE.
set -euo pipefail

# shellcheck source=cluster-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"
readonly APP_VERSION="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "${ROOT}/charts/dat-operator/Chart.yaml")"
# shellcheck source=../prometheus/versions.env
readonly PROMETHEUS_IMAGE="dat-operator.local/prometheus:$(source "${ROOT}/scripts/prometheus/versions.env" && echo "${PROMETHEUS_VERSION}")"
readonly IMAGES=("ghcr.io/dat-operator/operator:${APP_VERSION}" "ghcr.io/dat-operator/worker:${APP_VERSION}" "${PROMETHEUS_IMAGE}")

log() { printf 'kind-cluster: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

kubectl_() { "${CACHE}/toolchain/$(tr -d '[:space:]' < "${ROOT}/scripts/toolchain/VERSION")/bin/kubectl" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }
exists() { "${KIND}" get clusters 2>/dev/null | grep -qx "${CLUSTER}"; }

up() {
  local recreate=0
  [[ "${1:-}" == --recreate ]] && recreate=1
  bash "${ROOT}/scripts/docker/start-dockerd.sh"
  local node_image t0=${SECONDS}
  node_image="$(bash "${ROOT}/scripts/kind/build-node-image.sh")"
  bash "${ROOT}/scripts/images/build-images.sh" operator worker prometheus
  log "images ready in $((SECONDS - t0)) s"
  if [[ "${recreate}" == 1 ]] && exists; then
    log "deleting the existing cluster ${CLUSTER}"
    "${KIND}" delete cluster --name "${CLUSTER}" >&2
  fi
  mkdir -p "$(dirname "${KUBECONFIG_PATH}")"
  if exists; then
    log "using the existing cluster ${CLUSTER}"
    "${KIND}" get kubeconfig --name "${CLUSTER}" > "${KUBECONFIG_PATH}"
  else
    t0=${SECONDS}
    log "creating cluster ${CLUSTER} from ${node_image}"
    "${KIND}" create cluster --name "${CLUSTER}" --image "${node_image}" --config "${ROOT}/scripts/kind/cluster.yaml" \
      --kubeconfig "${KUBECONFIG_PATH}" --wait 5m >&2 || { diagnose; die "kind create cluster failed"; }
    log "cluster created in $((SECONDS - t0)) s"
  fi
  t0=${SECONDS}
  # Ready: the node, every system pod (CoreDNS, kube-router, kube-proxy, local-path-provisioner).
  kubectl_ wait --for=condition=Ready node --all --timeout=300s >&2 || { diagnose; die "the node did not become Ready"; }
  kubectl_ -n kube-system rollout status daemonset/kube-router --timeout=300s >&2 || { diagnose; die "kube-router did not become ready"; }
  kubectl_ -n kube-system rollout status deployment/coredns --timeout=300s >&2 || { diagnose; die "CoreDNS did not become ready"; }
  kubectl_ -n local-path-storage rollout status deployment/local-path-provisioner --timeout=300s >&2 || { diagnose; die "local-path-provisioner did not become ready"; }
  log "system pods ready in $((SECONDS - t0)) s"
  t0=${SECONDS}
  "${KIND}" load docker-image --name "${CLUSTER}" "${IMAGES[@]}" >&2
  log "loaded ${IMAGES[*]} in $((SECONDS - t0)) s"
  echo "${KUBECONFIG_PATH}"
}

# What a person would look at when the cluster does not come up.
diagnose() {
  local node="${CLUSTER}-control-plane"
  {
    echo "--- kubectl get pods -A"; kubectl_ get pods -A -o wide 2>&1 || true
    echo "--- kubelet (last 40 lines)"; docker exec "${node}" journalctl -u kubelet --no-pager -n 40 2>&1 || true
    echo "--- containerd (last 20 lines)"; docker exec "${node}" journalctl -u containerd --no-pager -n 20 2>&1 || true
    echo "--- containers"; docker exec "${node}" crictl ps -a 2>&1 || true
  } >&2
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) exists && "${KIND}" delete cluster --name "${CLUSTER}" >&2; rm -f "${KUBECONFIG_PATH}" ;;
  kubeconfig) echo "${KUBECONFIG_PATH}" ;;
  *) die "usage: cluster.sh up [--recreate] | down | kubeconfig" ;;
esac
