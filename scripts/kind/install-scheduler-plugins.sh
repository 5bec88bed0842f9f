#!/usr/bin/env bash
# Installs scheduler-plugins' Coscheduling into a kind cluster of
# scripts/kind/cluster.sh as a SECOND scheduler, from local parts:
#   1. the scheduler and controller binaries built from their Go module
#      (scripts/install-scheduler-plugins.sh),
#   2. an image of them on the project's Debian base
#      (images/scheduler-plugins.Dockerfile), loaded into the kind node,
#   3. the PodGroup CRD (and the controller's ElasticQuota CRD) from the same
#      module, and upstream's as-a-second-scheduler chart from it, rendered
#      with helm: schedulerName `scheduler-plugins-scheduler`, one profile with
#      only Coscheduling enabled (it replaces PrioritySort as the queue sort),
#      leader election off (one replica; the default scheduler keeps its lease),
# then waits until both Deployments are ready. Idempotent. Prints the image.
#
# Usage: install-scheduler-plugins.sh   (KIND_CLUSTER_NAME: default dat-e2e; DAT_CACHE)
set -euo pipefail

# shellcheck source=cluster-env.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster-env.sh"
readonly MODULE="sigs.k8s.io/scheduler-plugins"
readonly VERSION="$(sed -n 's/^require sigs.k8s.io\/scheduler-plugins \(v[^ ]*\)$/\1/p' "${ROOT}/scripts/scheduler-plugins/go.mod")"
readonly BASE="dat-operator/base-net:trixie"
readonly NAMESPACE="scheduler-plugins"
readonly SCHEDULER_NAME="scheduler-plugins-scheduler"
readonly TOOLCHAIN_BIN="${CACHE}/toolchain/$(tr -d '[:space:]' < "${ROOT}/scripts/toolchain/VERSION")/bin"

log() { printf 'install-scheduler-plugins: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }
kubectl_() { "${TOOLCHAIN_BIN}/kubectl" --kubeconfig "${KUBECONFIG_PATH}" "$@"; }

[[ -n "${VERSION}" ]] || die "no ${MODULE} version in scripts/scheduler-plugins/go.mod"
"${KIND}" get clusters 2>/dev/null | grep -qx "${CLUSTER}" || die "kind cluster ${CLUSTER} does not exist (bash scripts/kind/cluster.sh up)"

# Step 1
bin_dir="$(bash "${ROOT}/scripts/install-scheduler-plugins.sh")"

# Step 2
bash "${ROOT}/scripts/images/build-bases.sh" base-net >&2
stamp="$(cat "${bin_dir}/scheduler" "${bin_dir}/controller" | sha256sum | cut -c1-16)"
# The tag names the binaries: new ones change the Deployments, which then roll.
readonly IMAGE="dat-operator.local/scheduler-plugins:${VERSION}-${stamp}"
if [[ "$(docker image inspect --format '{{ index .Config.Labels "dat-operator.scheduler-plugins-binaries" }}' "${IMAGE}" 2>/dev/null)" != "${stamp}" ]]; then
  context="$(mktemp -d)"
  trap 'rm -rf "${context}"' EXIT
  cp "${bin_dir}/scheduler" "${context}/kube-scheduler"
  cp "${bin_dir}/controller" "${context}/controller"
  DOCKER_BUILDKIT=0 docker build -q --build-arg "BASE=${BASE}" --label "dat-operator.scheduler-plugins-binaries=${stamp}" \
    -t "${IMAGE}" -f "${ROOT}/images/scheduler-plugins.Dockerfile" "${context}" >/dev/null
  log "built ${IMAGE}"
fi
"${KIND}" load docker-image --name "${CLUSTER}" "${IMAGE}" >&2

# Step 3
module_dir="$(cd "${ROOT}/scripts/scheduler-plugins" && go list -m -f '{{.Dir}}' "${MODULE}")"
chart="${module_dir}/manifests/install/charts/as-a-second-scheduler"
[[ -d "${chart}" ]] || die "upstream's chart is missing in ${module_dir} (go mod download in scripts/scheduler-plugins)"
# The controller reconciles ElasticQuotas too and does not start without their CRD.
kubectl_ apply --server-side --force-conflicts \
  -f "${module_dir}/manifests/coscheduling/crd.yaml" -f "${module_dir}/manifests/capacityscheduling/crd.yaml" >&2
# Polled, not `kubectl wait --for=condition=Established`: a CRD created a moment ago has no
# conditions yet, and kubectl 1.34 then fails at once instead of waiting.
for crd in podgroups.scheduling.x-k8s.io elasticquotas.scheduling.x-k8s.io; do
  for ((i = 0; ; i++)); do
    [[ "$(kubectl_ get "crd/${crd}" -o 'jsonpath={.status.conditions[?(@.type=="Established")].status}' 2>/dev/null)" == True ]] && break
    ((i < 240)) || die "the CRD ${crd} was not Established within 60 s"
    sleep 0.25
  done
done
kubectl_ create namespace "${NAMESPACE}" --dry-run=client -o yaml | kubectl_ apply -f - >&2
values="$(mktemp)"
cat > "${values}" <<VALUES
scheduler:
  name: ${SCHEDULER_NAME}
  image: ${IMAGE}
  leaderElect: false
controller:
  image: ${IMAGE}
plugins:
  enabled: [Coscheduling]
  disabled: [PrioritySort]
pluginConfig:
- name: Coscheduling
  args:
    # How long the placed members of a gang wait at Permit for the rest; the
    # group's own spec.scheduleTimeoutSeconds overrides it.
    permitWaitingTimeSeconds: 10
VALUES
"${TOOLCHAIN_BIN}/helm" template scheduler-plugins "${chart}" --namespace "${NAMESPACE}" -f "${values}" > "${values}.yaml"
rm -f "${values}"
grep -q "image: ${IMAGE}" "${values}.yaml" || { rm -f "${values}.yaml"; die "the rendered chart does not use ${IMAGE} (upstream's chart changed?)"; }
kubectl_ apply --server-side --force-conflicts -f "${values}.yaml" >&2
rm -f "${values}.yaml"
for d in "${SCHEDULER_NAME}" scheduler-plugins-controller; do
  kubectl_ -n "${NAMESPACE}" rollout status "deployment/${d}" --timeout=300s >&2 || {
    kubectl_ -n "${NAMESPACE}" logs "deployment/${d}" --tail=40 >&2 || true
    die "${d} did not become ready"
  }
done
echo "${IMAGE}"
