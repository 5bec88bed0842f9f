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
fi

step "native TensorFlow backend (optional: tfjs-node on libtensorflow, built offline)"
bash scripts/install-tfjs-node.sh || true
if node -e "import('@tensorflow/tfjs-node').then(() => process.exit(0), () => process.exit(1))" >/dev/null 2>&1; then
  # Installed: the native kernel-equality tests must run, not skip.
  export DAT_REQUIRE_NATIVE_BACKEND=1
  echo "native backend available: tests run on tensorflow, wasm and cpu"
else
  echo "native backend unavailable: tests run on wasm and cpu"
fi

step "GPU TensorFlow backend (tfjs-node-gpu with CUDA libraries from PyPI; needs no GPU, cached after the first run)"
# Required, not optional: the tests check how a GPU image behaves on a node without a GPU.
if ! bash scripts/install-tfjs-node.sh --gpu; then
  echo "test.sh: the GPU binding (@tensorflow/tfjs-node-gpu) did not install: see the reason above; its tests cannot run without it" >&2
  exit 1
fi
export DAT_REQUIRE_GPU_BINDING=1

step "type check and build (tsc)"
# A clean build: compiled tests of deleted sources must not linger in dist/.
rm -rf dist
npx tsc -p tsconfig.json

step "lint (eslint)"
npx eslint .

step "tests (node --test)"
if [ "$unit_only" = 1 ]; then
  mapfile -t files < <(find dist/test -name '*.test.js' -not -path 'dist/test/integration/*' -not -path 'dist/test/e2e/*' -not -path 'dist/test/charts/*' | sort)
else
  mapfile -t files < <(find dist/test -name '*.test.js' | sort)
fi
if [ "${#files[@]}" = 0 ]; then echo "no test files found" >&2; exit 1; fi
# One file at a time: multi-process tests and the control plane need the two cores to themselves.
exec node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
