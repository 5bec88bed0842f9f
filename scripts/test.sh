#!/usr/bin/env bash
# The whole test suite, from a fresh clone: installs what it needs (npm
# packages, the native TensorFlow backend, the Kubernetes toolchain built from
# its Go modules, a Docker engine and a kind cluster built from local parts;
# all cached under ~/.cache/dat-operator), then type-checks, lints and runs
# every test with node's test runner. The e2e suite runs on the kind cluster;
# the cluster is deleted afterwards unless KEEP_CLUSTER=1.
#   --unit   skip the toolchain, the cluster and the tests that need them
set -euo pipefail
cd "$(dirname "$0")/.."

unit_only=0
for a in "$@"; do
  case "$a" in
    --unit) unit_only=1 ;;
    *) echo "test.sh: unknown option $a (accepted: --unit)" >&2; exit 2 ;;
  esac
done

step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "npm packages"
bash scripts/ensure-npm.sh

step "native TensorFlow backend (optional: tfjs-node on libtensorflow, built offline)"
bash scripts/install-tfjs-node.sh || true
if node -e "import('@tensorflow/tfjs-node').then(() => process.exit(0), () => process.exit(1))" >/dev/null 2>&1; then
  # Installed: the native kernel-equality tests must run, not skip.
  export DAT_REQUIRE_NATIVE_BACKEND=1
  echo "native backend available: tests run on tensorflow, wasm and cpu"
else
  echo "native backend unavailable: tests run on wasm and cpu"
fi

step "tensorboard Python package (cached venv; the event-file tests read back with it)"
# Not fatal here: the tests that need it fail with this script's reason, and the rest still run.
bash scripts/install-tensorboard-venv.sh >/dev/null || echo "tensorboard venv unavailable: the TensorBoard tests will fail with the reason above"

step "GPU TensorFlow backend (tfjs-node-gpu with CUDA libraries from PyPI; needs no GPU, cached after the first run)"
# Required, not optional: the tests check how a GPU image behaves on a node without a GPU.
if ! bash scripts/install-tfjs-node.sh --gpu; then
  echo "test.sh: the GPU binding (@tensorflow/tfjs-node-gpu) did not install: see the reason above; its tests cannot run without it" >&2
  exit 1
fi
export DAT_REQUIRE_GPU_BINDING=1

step "native codec kernels (C addon built with node-gyp; required here, so their equality tests run)"
bash scripts/build-native-kernels.sh
export DAT_REQUIRE_NATIVE_KERNELS=1

step "type check and build (tsc)"
# A clean build: compiled tests of deleted sources must not linger in dist/.
rm -rf dist
npx tsc -p tsconfig.json

step "lint (eslint)"
npx eslint .

if [ "$unit_only" = 0 ]; then
  step "control-plane toolchain (etcd, kube-apiserver, kube-controller-manager, kubelet, kubeadm, kubectl, helm)"
  bash scripts/install-toolchain.sh

  step "Prometheus from its Go module (promtool checks the Grafana dashboard; the server runs in the kind e2e suite; cached)"
  bash scripts/prometheus/install-prometheus.sh >/dev/null

  step "Kueue from its Go module (test/e2e/kueue.test.ts installs it into the kind cluster; cached)"
  bash scripts/install-kueue.sh >/dev/null

  step "scheduler-plugins from its Go module (test/e2e/coscheduling.test.ts installs it into the kind cluster; cached)"
  bash scripts/install-scheduler-plugins.sh >/dev/null

  step "kind cluster (Docker engine, node and project images built locally; cached)"
  if ! kubeconfig="$(DAT_IMAGES_SKIP_TSC=1 bash scripts/kind/cluster.sh up --recreate)"; then
    echo "test.sh: the kind cluster could not be created (see above). The e2e suite needs a Docker engine:" >&2
    echo "  as root: bash scripts/docker/start-dockerd.sh   (installs docker.io and starts dockerd with the runc wrapper)" >&2
    exit 1
  fi
  export DAT_E2E_KUBECONFIG="$kubeconfig"

  step "GPU worker image (test/images/ runs it on this GPU-less host)"
  DAT_IMAGES_SKIP_TSC=1 bash scripts/images/build-images.sh worker-gpu
  if [ "${KEEP_CLUSTER:-0}" != 1 ]; then
    trap 'printf "\n==> deleting the kind cluster (KEEP_CLUSTER=1 keeps it)\n"; bash scripts/kind/cluster.sh down || true' EXIT
  fi
fi

step "tests (node --test)"
if [ "$unit_only" = 1 ]; then
  mapfile -t files < <(find dist/test -name '*.test.js' -not -path 'dist/test/integration/*' -not -path 'dist/test/e2e/*' -not -path 'dist/test/charts/*' -not -path 'dist/test/images/*' | sort)
else
  mapfile -t files < <(find dist/test -name '*.test.js' | sort)
fi
if [ "${#files[@]}" = 0 ]; then echo "no test files found" >&2; exit 1; fi
# One file at a time: multi-process tests, the control plane and the cluster need the two cores to themselves.
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
