#!/usr/bin/env bash
# Stages what a GPU worker needs at run time beyond the CPU worker's files, so a Dockerfile
# can COPY it onto a plain Debian base with Node 20 (no CUDA base image, no CUDA registry):
# the built @tensorflow/tfjs-node-gpu binding, libtensorflow 2.9.1 and the CUDA 11.8 /
# cuDNN 8.9 runtime libraries, all from scripts/install-tfjs-node.sh --gpu (which this
# script runs first; cached, so a rerun takes seconds).
#
# Layout of DIR (paths relative to the app root, e.g. /app):
#
#   DIR/node_modules/@tensorflow/tfjs-node-gpu/
#     package.json, dist/           the npm package (its JS)
#     lib/napi-v8/tfjs_binding.node the binding built here; RUNPATH $ORIGIN/../../deps/lib
#     deps/lib/                     libtensorflow (_pywrap_tensorflow_internal.so,
#                                   libtensorflow_framework.so.2, libtfjs_pystub.so, the
#                                   libtensorflow.so ld script and symlinks) and the CUDA and
#                                   cuDNN libraries (libcudart.so.11.0, libcublas.so.11,
#                                   libcublasLt.so.11, libcufft.so.10, libcurand.so.10,
#                                   libcusolver.so.11, libcusparse.so.11, libcudnn*.so.8),
#                                   found through $ORIGIN RUNPATHs: no LD_LIBRARY_PATH needed
#     deps/.dat-operator-native-stamp
#   DIR/dat-gpu-runtime.txt         what was staged (versions, sizes)
#
# The package's JS dependencies (@tensorflow/tfjs, @mapbox/node-pre-gyp, google-protobuf, ...)
# are not staged: `npm ci --omit=dev` installs them from the lockfile, where tfjs-node-gpu is
# an optional dependency. COPY DIR after that step, over the app root, e.g.
#   COPY <DIR>/node_modules/@tensorflow/tfjs-node-gpu /app/node_modules/@tensorflow/tfjs-node-gpu
# The host (or the NVIDIA container toolkit) provides only the driver: libcuda.so.1 and /dev/nvidia*.
# Runtime packages the libraries need from the base: libc6, libstdc++6, libgcc-s1, zlib1g.
# deps/include (build headers) is left out. About 3.5 GB, most of it cuDNN and cuBLAS.
#
# Usage: scripts/images/stage-gpu-runtime.sh [--offline] DIR
#   DIR must be empty or absent. Files are hard-linked from node_modules when DIR is on the same
#   filesystem (no extra space), copied otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly ROOT
readonly PKG=@tensorflow/tfjs-node-gpu

offline=()
dest=
while [ $# -gt 0 ]; do
  case "$1" in
    --offline) offline=(--offline) ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "stage-gpu-runtime: unknown option $1" >&2; exit 2 ;;
    *) [ -z "$dest" ] || { echo "stage-gpu-runtime: one DIR only" >&2; exit 2; }; dest="$1" ;;
  esac
  shift
done
[ -n "$dest" ] || { echo "usage: scripts/images/stage-gpu-runtime.sh [--offline] DIR" >&2; exit 2; }
if [ -e "$dest" ] && [ -n "$(ls -A "$dest")" ]; then echo "stage-gpu-runtime: $dest is not empty" >&2; exit 2; fi

# Exits 1 with "GPU backend build failed: ..." when the binding cannot be built.
bash "$ROOT/scripts/install-tfjs-node.sh" --gpu "${offline[@]}" >&2

src="$ROOT/node_modules/$PKG"
binding="$(cd "$ROOT" && node -e 'process.stdout.write(require("@mapbox/node-pre-gyp").find(require.resolve(process.argv[1] + "/package.json")))' "$PKG")"
[ -f "$binding" ] && [ -f "$src/deps/.dat-operator-native-stamp" ] || { echo "stage-gpu-runtime: $PKG has no installed binding after the install" >&2; exit 1; }

mkdir -p "$dest/node_modules/@tensorflow"
out="$dest/node_modules/$PKG"
mkdir -p "$out"
# Hard links when possible: the libraries are ~4 GB.
copy() { cp -al "$@" 2>/dev/null || cp -a "$@"; }
(cd "$src" && for f in package.json README.md LICENSE dist lib; do if [ -e "$f" ]; then copy "$f" "$out/"; fi; done)
mkdir -p "$out/deps"
copy "$src/deps/lib" "$out/deps/"
cp "$src/deps/.dat-operator-native-stamp" "$out/deps/"

# The staged binding must load from the staged tree alone (RUNPATH is relative to it).
rel="${binding#"$src/"}"
TF_CPP_MIN_LOG_LEVEL=3 node -e 'require(process.argv[1])' "$out/$rel" || { echo "stage-gpu-runtime: the staged binding $out/$rel does not load" >&2; exit 1; }

{
  echo "# scripts/images/stage-gpu-runtime.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  cat "$out/deps/.dat-operator-native-stamp"
  echo "binding: node_modules/$PKG/$rel"
  echo "size: $(du -sh --apparent-size "$dest/node_modules" | cut -f1)"
  (cd "$out/deps/lib" && ls -1)
} > "$dest/dat-gpu-runtime.txt"
echo "staged the GPU runtime in $dest ($(du -sh --apparent-size "$dest/node_modules" | cut -f1)): node_modules/$PKG with its binding and deps/lib"
