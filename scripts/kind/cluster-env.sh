# shellcheck shell=bash
# Sourced by the scripts that act on the e2e kind cluster: where the repo, the
# cache, the kind binary and the cluster's kubeconfig are.
# Environment: KIND_CLUSTER_NAME (default dat-e2e), DAT_CACHE.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=versions.env
source "${ROOT}/scripts/kind/versions.env"
CACHE="${DAT_CACHE:-${HOME}/.cache/dat-operator}"
KIND="${CACHE}/kind-tools/${KIND_TOOLS_REV}/bin/kind"
CLUSTER="${KIND_CLUSTER_NAME:-dat-e2e}"
KUBECONFIG_PATH="${CACHE}/kind/${CLUSTER}.kubeconfig"
readonly ROOT CACHE KIND CLUSTER KUBECONFIG_PATH
