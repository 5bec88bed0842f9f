#!/usr/bin/env bash
# The end-to-end suite (test/e2e/): helm install the chart, kubectl apply the
# examples, inject faults, helm uninstall. Runs against the cluster chosen by
# DAT_E2E_PROVIDER:
#   local (default, CI)  the project's real control plane (etcd, kube-apiserver,
#                        kube-controller-manager from the Kubernetes Go modules)
#                        and test node agent, started by the suite itself
#   kind                 the cluster KUBECONFIG points at; use scripts/e2e-kind.sh,
#                        which creates it and loads the images
# Usage: npm run test:e2e   (or bash scripts/test-e2e.sh [--no-npm])
#   --no-npm   do not check node_modules against the lockfile (a shared checkout
#              where another process is using node_modules)
set -euo pipefail
cd "$(dirname "$0")/.."

check_npm=1
for a in "$@"; do
  case "$a" in
    --no-npm) check_npm=0 ;;
    *) echo "test-e2e.sh: unknown option $a (accepted: --no-npm)" >&2; exit 2 ;;
  esac
done
provider="${DAT_E2E_PROVIDER:-local}"
step() { printf '\n==> %s\n' "$*"; }

if [ "$check_npm" = 1 ]; then
  step "npm packages"
  bash scripts/ensure-npm.sh
fi

if [ "$provider" = local ] || ! command -v kubectl >/dev/null || ! command -v helm >/dev/null; then
  step "toolchain (etcd, kube-apiserver, kube-controller-manager, kubectl, helm; cached)"
  bash scripts/install-toolchain.sh
fi
if [ "$provider" = local ] && [ -f scripts/install-tfjs-node.sh ]; then
  # The workers run as local processes here: the native backend makes training several times faster.
  step "native TensorFlow backend for the local workers (optional)"
  bash scripts/install-tfjs-node.sh || echo "native backend unavailable; workers train on wasm"
fi

step "build (tsc)"
npx tsc -p tsconfig.json

step "e2e suite (provider: $provider)"
# node 20's --test takes no glob: list the compiled test files explicitly.
mapfile -t files < <(find dist/test/e2e -name '*.test.js' | sort)
if [ "${#files[@]}" = 0 ]; then echo "no e2e test files under dist/test/e2e" >&2; exit 1; fi
# One file at a time: the control plane and the training pods need the cores to themselves.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
