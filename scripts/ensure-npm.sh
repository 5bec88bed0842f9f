#!/usr/bin/env bash
# Installs the npm packages from the lockfile when node_modules is missing or out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.dat-lock-stamp
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
npm ci --no-audit --no-fund
echo "$want" > "$stamp"
