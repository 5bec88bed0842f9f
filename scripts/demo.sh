#!/usr/bin/env bash
# The newcomer's first run: installs the npm packages, builds, and trains a small CNN
# adversarially (FGSM with random start, the DAT "fast" mode) on real MNIST digits with
# 2 worker processes that all-reduce their gradients over gRPC. Extra arguments are
# passed to `dat train` (e.g. `npm run demo -- --workers 3 --attack pgd`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-npm.sh
# The codec kernels in C; without a compiler the worker runs the same kernels in TypeScript.
bash scripts/build-native-kernels.sh || echo "==> native codec kernels unavailable: compression runs in TypeScript"
echo "==> building (tsc)"
npx tsc -p tsconfig.json
echo "==> dat train: 2 workers, small-cnn, MNIST, eps 0.1"
exec node bin/dat.js train \
  --workers 2 \
  --dataset mnist --limit 8000 --test-size 1000 \
  --model small-cnn --attack fgsm-rs --eps 0.1 \
  --epochs 6 --batch-size 64 \
  --eval-size 1000 \
  --output runs/demo \
  "$@"
