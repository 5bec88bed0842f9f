#!/usr/bin/env bash
# The e2e suite on a kind cluster, for machines with Docker (the CI machines
# have no Docker engine and use the default `local` provider instead):
#   1. creates a kind cluster (unless one named $KIND_CLUSTER_NAME exists),
#   2. builds the operator and CPU worker images from images/*.Dockerfile with
#      the tags the chart and examples use,
#   3. loads them into the cluster's node (no registry needed),
#   4. runs scripts/test-e2e.sh with DAT_E2E_PROVIDER=kind and KUBECONFIG set,
#   5. deletes the cluster unless KEEP_CLUSTER=1 (or it existed before).
# Needs: docker, kind (https://kind.sigs.k8s.io), and either kubectl + helm on
# PATH or Go to build them (scripts/install-toolchain.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

cluster="${KIND_CLUSTER_NAME:-dat-e2e}"
kubeconfig="${KIND_KUBECONFIG:-${TMPDIR:-/tmp}/dat-e2e-kind-${cluster}.kubeconfig}"
# Image tags: the chart's appVersion (operator) and the examples' worker tag.
app_version="$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' charts/dat-operator/Chart.yaml)"
operator_image="ghcr.io/dat-operator/operator:${app_version}"
worker_image="ghcr.io/dat-operator/worker:${app_version}"

log() { printf '\n==> %s\n' "$*"; }
for tool in docker kind; do
  command -v "$tool" >/dev/null || { echo "e2e-kind: $tool is required" >&2; exit 1; }
done
docker info >/dev/null 2>&1 || { echo "e2e-kind: the Docker engine is not reachable (docker info failed)" >&2; exit 1; }

created=0
if kind get clusters 2>/dev/null | grep -qx "$cluster"; then
  log "using existing kind cluster $cluster"
  kind get kubeconfig --name "$cluster" > "$kubeconfig"
else
  log "creating kind cluster $cluster"
  kind create cluster --name "$cluster" --kubeconfig "$kubeconfig" --wait 180s
  created=1
fi
cleanup() {
  if [ "$created" = 1 ] && [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    log "deleting kind cluster $cluster (KEEP_CLUSTER=1 keeps it)"
    kind delete cluster --name "$cluster" || true
  fi
}
trap cleanup EXIT

log "building $operator_image and $worker_image"
docker build -f images/operator.Dockerfile -t "$operator_image" .
docker build -f images/worker.Dockerfile -t "$worker_image" .

log "loading the images into $cluster"
kind load docker-image --name "$cluster" "$operator_image" "$worker_image"

log "running the e2e suite against $cluster"
KUBECONFIG="$kubeconfig" DAT_E2E_PROVIDER=kind bash scripts/test-e2e.sh
