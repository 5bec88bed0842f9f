#!/usr/bin/env bash
# Installs Kueue into a kind cluster of scripts/kind/cluster.sh, from local parts:
#   1. the manager binary built from its Go module (scripts/install-kueue.sh),
#   2. an image of it on the project's Debian base (images/kueue.Dockerfile),
#      loaded into the kind node,
#   3. Kueue's own manifests from the same module (config/default, rendered with
#      kubectl's built-in kustomize), with the image swapped for the local one,
# then waits until the controller and its webhooks answer. Idempotent.
# Prints the image it installed.
#
# Usage: install-kueue.sh   (KIND_CLUSTER_NAME: default dat-e2e; DAT_CACHE)
set -euo pipefail

# shellcheck source=cluster-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"
readonly KUEUE_VERSION="$(sed -n 's/^require sigs.k8s.io\/kueue \(v[^ ]*\)$/\1/p' "${ROOT}/scripts/kueue/go.mod")"
readonly IMAGE="dat-operator.local/kueue:${KUEUE_VERSION}"
readonly BASE="dat-operator/base-net:trixie"

log() { printf 'install-kueue: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
kubectl_() { "${CACHE}/toolchain/$(tr -d '[:space:]' < "${ROOT}/scripts/toolchain/VERSION")/bin/kubectl" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }

[[ -n "${KUEUE_VERSION}" ]] || die "no sigs.k8s.io/kueue version in scripts/kueue/go.mod"
"${KIND}" get clusters 2>/dev/null | grep -qx "${CLUSTER}" || die "kind cluster ${CLUSTER} does not exist (bash scripts/kind/cluster.sh up)"

# Step 1
bin="$(bash "${ROOT}/scripts/install-kueue.sh")"

# Step 2
bash "${ROOT}/scripts/images/build-bases.sh" base-net >&2
if [[ "$(docker image inspect --format '{{ index .Config.Labels "dat-operator.kueue-binary" }}' "${IMAGE}" 2>/dev/null)" != "$(sha256sum < "${bin}" | cut -c1-16)" ]]; then
  context="$(mktemp -d)"
  trap 'rm -rf "${context}"' EXIT
  cp "${bin}" "${context}/manager"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=${BASE}" --label "dat-operator.kueue-binary=$(sha256sum < "${bin}" | cut -c1-16)" \
    -t "${IMAGE}" -f "${ROOT}/images/kueue.Dockerfile" "${context}" >/dev/null
  log "built ${IMAGE}"
fi
"${KIND}" load docker-image --name "${CLUSTER}" "${IMAGE}" >&2

# Step 3
module_dir="$(cd "${ROOT}/scripts/kueue" && go list -m -f '{{.Dir}}' sigs.k8s.io/kueue)"
[[ -d "${module_dir}/config/default" ]] || die "Kueue's manifests are missing in ${module_dir} (go mod download in scripts/kueue)"
# The module cache is read-only: render from a writable copy, then pin the image (a local one: never pulled).
work="$(mktemp -d)"
cp -r "${module_dir}/config" "${work}/" && chmod -R u+w "${work}"
kubectl_ kustomize "${work}/config/default" \
  | sed -e "s#image: us-central1-docker.pkg.dev/k8s-staging-images/kueue/kueue:main#image: ${IMAGE}#" -e 's#imagePullPolicy: Always#imagePullPolicy: IfNotPresent#' \
  > "${work}/kueue.yaml"
rm -rf "${work}/config"
grep -q "image: ${IMAGE}" "${work}/kueue.yaml" || die "the rendered manifests do not use ${IMAGE} (Kueue's image name changed?)"
kubectl_ apply --server-side --force-conflicts -f "${work}/kueue.yaml" >&2
rm -rf "${work}"
kubectl_ -n kueue-system rollout status deployment/kueue-controller-manager --timeout=300s >&2 || {
  kubectl_ -n kueue-system logs deployment/kueue-controller-manager --tail=40 >&2 || true
  die "kueue-controller-manager did not become ready"
}
# Kueue's aggregated visibility API (on-demand pending-workload listings) is not used here, and in this
# setup it answered discovery with 404 while its APIServices reported Available: API discovery then fails
# for the whole cluster and the namespace controller stops finalizing deleted namespaces (they stay
# Terminating). Remove its APIServices; Kueue's admission and preemption do not depend on them.
kubectl_ delete apiservice v1beta1.visibility.kueue.x-k8s.io v1beta2.visibility.kueue.x-k8s.io --ignore-not-found >&2
# Ready is not enough: the webhooks must answer before the first LocalQueue or Pod goes through them.
for _ in $(seq 1 60); do
  if printf 'apiVersion: kueue.x-k8s.io/v1beta2\nkind: ResourceFlavor\nmetadata:\n  name: dat-webhook-probe\n' | kubectl_ apply --dry-run=server -f - >/dev/null 2>&1; then
    echo "${IMAGE}"
    exit 0
  fi
  sleep 2
done
die "Kueue's webhooks did not answer within 120 s"
