#!/usr/bin/env bash
# The end-to-end suite (test/e2e/) alone, on a kind cluster: helm install the
# chart, kubectl apply the examples, inject faults, helm uninstall.
# Creates the cluster with scripts/kind/cluster.sh up (reusing it when it
# exists) and leaves it running for the next run; `--down` deletes it after.
# Usage: npm run test:e2e   (or bash scripts/test-e2e.sh [--down] [--recreate])
set -euo pipefail
cd "$(dirname "$0")/.."

down=0
up_args=()
for a in "$@"; do
  case "$a" in
    --down) down=1 ;;
    --recreate) up_args+=(--recreate) ;;
    *) echo "test-e2e.sh: unknown option $a (accepted: --down, --recreate)" >&2; exit 2 ;;
  esac
done
step() { printf '\n==> %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "npm packages and build (tsc)"
bash scripts/ensure-npm.sh
npx tsc -p tsconfig.json

step "toolchain (kubectl, helm; cached)"
bash scripts/install-toolchain.sh

step "kind cluster"
DAT_E2E_KUBECONFIG="$(DAT_IMAGES_SKIP_TSC=1 bash scripts/kind/cluster.sh up "${up_args[@]}")"
export DAT_E2E_KUBECONFIG
[ "$down" = 1 ] && trap 'bash scripts/kind/cluster.sh down || true' EXIT

step "e2e suite on kind"
mapfile -t files < <(find dist/test/e2e -name '*.test.js' | sort)
if [ "${#files[@]}" = 0 ]; then echo "no e2e test files under dist/test/e2e" >&2; exit 1; fi
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
