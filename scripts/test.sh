#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (npm packages,
# the control-plane toolchain built from the Kubernetes Go modules, cached), then
# type-checks, lints and runs every test with node's test runner.
#   --unit   skip the toolchain install and the tests that need a control plane
set -euo pipefail
cd "$(dirname "$0")/.."

unit_only=0
for a in "$@"; do
  case "$a" in
    --unit) unit_only=1 ;;
    *) echo "test.sh: unknown option $a (accepted: --unit)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s\n' "$*"; }

step "npm packages"
bash scripts/ensure-npm.sh

if [ "$unit_only" = 0 ]; then
  step "control-plane toolchain (etcd, kube-apiserver, kube-controller-manager, kubectl, helm)"
  bash scripts/install-toolchain.sh
  if [ -f scripts/install-tfjs-node.sh ]; then
    step "native TensorFlow backend (optional)"
    bash scripts/install-tfjs-node.sh || echo "native backend unavailable; tests run on wasm"
  fi
fi

step "type check and build (tsc)"
npx tsc -p tsconfig.json

step "lint (eslint)"
npx eslint .

step "tests (node --test)"
if [ "$unit_only" = 1 ]; then
  mapfile -t files < <(find dist/test -name '*.test.js' -not -path 'dist/test/integration/*' -not -path 'dist/test/e2e/*' | sort)
else
  mapfile -t files < <(find dist/test -name '*.test.js' | sort)
fi
if [ "${#files[@]}" = 0 ]; then echo "no test files found" >&2; exit 1; fi
# One file at a time: multi-process tests and the control plane need the two cores to themselves.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
