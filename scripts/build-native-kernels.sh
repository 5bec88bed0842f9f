#!/usr/bin/env bash
# Builds the native addon of worker/comm's inner loops (native/kernels: the ring's
# float32 sums and the binary16 and qsgd8 codecs in C) with node-gyp, offline, into
# native/kernels/build/Release/dat_kernels.node. The worker loads it when present and
# otherwise runs the same kernels in TypeScript (bit-identical, slower; docs/collective.md,
# docs/compression.md). Skips the build when the sources, Node version and build are
# unchanged. Prints one line; exits 1 with the reason when it cannot build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly DIR="$ROOT/native/kernels"
readonly OUT="$DIR/build/Release/dat_kernels.node"
readonly STAMP="$DIR/build/.dat-stamp"
# shellcheck source=lib/node-gyp.sh
source "$ROOT/scripts/lib/node-gyp.sh"

fail() { echo "build-native-kernels: $*" >&2; exit 1; }
loads() { node -e 'require(process.argv[1]).encodeHalf(new Float32Array(1), new Uint8Array(2))' "$OUT" >/dev/null 2>&1; }

want="$(cat "$DIR/kernels.c" "$DIR/binding.gyp" | sha256sum | cut -c1-16) node=$(node -p 'process.versions.node + " napi " + process.versions.napi')"
if [ -f "$OUT" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && loads; then
  echo "native kernels already built ($OUT)"
  exit 0
fi
for tool in python3 make cc; do command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (node-gyp needs it)"; done
gyp="$(find_node_gyp)" || fail "node-gyp not found (it ships with npm)"
nodedir="$(find_node_headers)" || fail "Node.js headers (include/node/node_api.h) not found; set npm_config_nodedir"
started=$SECONDS
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
(cd "$DIR" && $gyp rebuild --nodedir="$nodedir" >"$log" 2>&1) || fail "node-gyp build failed: $(grep -m3 -E 'error' "$log" | tr '\n' ' ')"
loads || fail "the built addon does not load: $(node -e 'require(process.argv[1])' "$OUT" 2>&1 | grep -m1 Error)"
echo "$want" > "$STAMP"
echo "native kernels built in $((SECONDS - started)) s ($OUT)"
