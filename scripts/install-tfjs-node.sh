#!/usr/bin/env bash
# Makes `import('@tensorflow/tfjs-node')` work without the package's own install
# step, which downloads libtensorflow from storage.googleapis.com (unreachable
# here and on air-gapped clusters). See docs/native-backend.md.
#
#   1. takes libtensorflow's shared libraries and C headers from PyPI's
#      tensorflow-cpu wheel (pinned version and sha256, scripts/tfjs-node/versions.env);
#   2. stages them as the layout tfjs-node's binding.gyp expects (deps/{lib,include}):
#      the wheel's C API lives in _pywrap_tensorflow_internal.so, which also needs
#      CPython symbols, so a small generated stub library provides those and a GNU ld
#      script named libtensorflow.so links both;
#   3. builds the package's own N-API binding with node-gyp against the Node headers
#      installed on the machine, and copies it where node-pre-gyp looks for it;
#   4. checks the result: the backend loads and a conv2d gradient matches the cpu backend.
#
# Wheel, staged libraries and built binding are cached under
# ${DAT_TFJS_NODE_CACHE:-~/.cache/dat-operator/tfjs-node}; a rerun with everything in
# place only checks and exits. Network is used only to fill an empty cache (pip for
# the wheel, npm for the package), never with --offline.
#
# --gpu (or TFJS_NODE_FLAVOR=gpu) builds @tensorflow/tfjs-node-gpu instead: libtensorflow
# from the tensorflow-gpu wheel, plus the CUDA 11 / cuDNN 8 runtime libraries from NVIDIA's
# PyPI wheels (CUDA_WHEELS in versions.env), copied into deps/lib beside libtensorflow so
# no system CUDA is needed; only the NVIDIA driver (libcuda.so.1) comes from the host.
# The GPU build needs no GPU: on a machine without one the binding loads and computes on
# the CPU, which the last line reports.
#
# Exit status. CPU: 0 unless the arguments are wrong (2): when it cannot succeed it prints
# "native backend unavailable: <reason>" and leaves tfjs-node without a binding, so
# callers (CI, the worker's backend selection) carry on with wasm. GPU: anything short of
# a working tfjs-node-gpu binding on a CUDA build of libtensorflow with every CUDA library
# in place prints "GPU backend build failed: <reason>" and exits 1 (an image built for
# GPUs must not end up with a CPU binding).
#
# Usage: scripts/install-tfjs-node.sh [--project DIR] [--gpu] [--offline] [--wheel FILE]
#                                     [--wheel-dir DIR] [--force] [--no-verify]
#   --wheel FILE     the libtensorflow wheel, instead of downloading it
#   --wheel-dir DIR  look for every wheel (libtensorflow's, and with --gpu the CUDA ones) in
#                    DIR before downloading (air-gapped hosts: fill DIR with pip download)
set -Eeuo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly SCRIPT_DIR
readonly HELPER_DIR="$SCRIPT_DIR/tfjs-node"
readonly LOG_PREFIX="install-tfjs-node:"
# shellcheck source=scripts/tfjs-node/versions.env
source "$HELPER_DIR/versions.env"

project="$(cd "$SCRIPT_DIR/.." && pwd)"
variant=cpu
offline=0
wheel_arg=
wheel_dir=
case "${TFJS_NODE_FLAVOR:-cpu}" in
  cpu) ;;
  gpu) variant=gpu ;;
  *) echo "$LOG_PREFIX TFJS_NODE_FLAVOR=${TFJS_NODE_FLAVOR} is not cpu or gpu" >&2; exit 2 ;;
esac
force=0
verify=1

usage() { sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --project) project="$(cd "${2:?--project needs a directory}" && pwd)"; shift ;;
    --gpu) variant=gpu ;;
    --offline) offline=1 ;;
    --wheel) wheel_arg="${2:?--wheel needs a file}"; shift ;;
    --wheel-dir) wheel_dir="${2:?--wheel-dir needs a directory}"; shift ;;
    --force) force=1 ;;
    --no-verify) verify=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "$LOG_PREFIX unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { printf '%s %s\n' "$LOG_PREFIX" "$*" >&2; }

tmp_root=
cleanup() { if [ -n "$tmp_root" ]; then rm -rf "$tmp_root"; fi; }
trap cleanup EXIT

# The one way out on failure: a clear reason; exit 0 for CPU so CI continues on wasm,
# exit 1 for GPU, where a build without the GPU binding is a failed build.
unavailable() {
  # Inside a command substitution or ( ) the caller's `|| unavailable ...` reports it.
  if [ "$BASHPID" != "$$" ]; then echo "$LOG_PREFIX $*" >&2; exit 1; fi
  trap - ERR
  if [ "$variant" = gpu ]; then
    echo "GPU backend build failed: $*"
    exit 1
  fi
  echo "native backend unavailable: $*"
  exit 0
}
trap 'unavailable "unexpected failure (exit $?) at ${BASH_SOURCE[0]}:$LINENO: $BASH_COMMAND"' ERR

if [ "$variant" = gpu ]; then
  pkg_name=@tensorflow/tfjs-node-gpu
  wheel_project=$GPU_WHEEL_PROJECT wheel_file=$GPU_WHEEL_FILE wheel_sha256=$GPU_WHEEL_SHA256
else
  pkg_name=@tensorflow/tfjs-node
  wheel_project=$CPU_WHEEL_PROJECT wheel_file=$CPU_WHEEL_FILE wheel_sha256=$CPU_WHEEL_SHA256
fi

# The CUDA wheels as "project version file sha256 libs" lines (GPU only), and a short key
# of them: a changed pin gets its own stage directory and invalidates installed bindings.
cuda_wheels=
cuda_key=
if [ "$variant" = gpu ]; then
  cuda_wheels="$(printf '%s\n' "$CUDA_WHEELS" | sed '/^[[:space:]]*$/d')"
  cuda_key="-cuda-$(printf '%s' "$cuda_wheels" | sha256sum | cut -c1-12)"
fi

cache_dir="${DAT_TFJS_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/dat-operator/tfjs-node}"
pkg_dir="$project/node_modules/$pkg_name"
stage_dir="$cache_dir/stage/$variant-libtensorflow-$TF_VERSION-r$LAYOUT_REV$cuda_key"
readonly STAMP_NAME=.dat-operator-native-stamp
# Library names inside deps/lib (see stage_libtensorflow).
readonly PYWRAP_LIB=_pywrap_tensorflow_internal.so
readonly FRAMEWORK_LIB=libtensorflow_framework.so.2
readonly PYSTUB_LIB=libtfjs_pystub.so

need_tool() { command -v "$1" >/dev/null 2>&1 || unavailable "$1 not found on PATH ($2)"; }
need_tool node "runs the build and the check"

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

installed_version() {
  [ -f "$pkg_dir/package.json" ] || return 0
  node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).version))' "$pkg_dir/package.json"
}

# Where tfjs-node's dist/index.js will look for the binding: ask node-pre-gyp itself,
# resolved from the package (it picks the highest napi-vN the package lists that this Node supports).
binding_path() {
  node -e '
    const { createRequire } = require("module");
    const pj = process.argv[1];
    process.stdout.write(createRequire(pj)("@mapbox/node-pre-gyp").find(pj));' "$pkg_dir/package.json"
}

# Loading the binding resolves every symbol it needs from deps/lib, at a fraction of a full import's cost.
binding_loads() { node -e 'require(process.argv[1])' "$1" >/dev/null 2>&1; }

stamp_value() { echo "variant=$variant tfjs-node=$TFJS_NODE_VERSION tf=$TF_VERSION wheel=$wheel_sha256 layout=$LAYOUT_REV$cuda_key napi=$1"; }

# What the GPU build adds to the installed/already-installed lines.
cuda_summary() {
  [ "$variant" = gpu ] || return 0
  printf ' with CUDA runtime %s and cuDNN %s from PyPI' \
    "$(printf '%s\n' "$cuda_wheels" | awk '$1 == "nvidia-cuda-runtime-cu11" {print $2}')" \
    "$(printf '%s\n' "$cuda_wheels" | awk '$1 == "nvidia-cudnn-cu11" {print $2}')"
}

# One install at a time per cache: parallel runs (two test.sh) would race on deps/.
mkdir -p "$cache_dir"
if command -v flock >/dev/null 2>&1; then
  exec 9>"$cache_dir/.lock"
  flock -w 900 9 || unavailable "another install-tfjs-node.sh still holds $cache_dir/.lock after 15 min"
fi

# ---------------------------------------------------------------- fast path
if [ "$force" = 0 ] && [ "$(installed_version)" = "$TFJS_NODE_VERSION" ] && [ -f "$pkg_dir/deps/$STAMP_NAME" ]; then
  bpath="$(binding_path 2>/dev/null || true)"
  napi="$(basename "$(dirname "$bpath")")"
  if [ -n "$bpath" ] && [ -f "$bpath" ] && [ "$(cat "$pkg_dir/deps/$STAMP_NAME")" = "$(stamp_value "$napi")" ] && binding_loads "$bpath"; then
    echo "native backend already installed: $pkg_name@$TFJS_NODE_VERSION on libtensorflow $TF_VERSION$(cuda_summary) ($bpath)"
    exit 0
  fi
fi

started=$(date +%s)
tmp_root="$(mktemp -d "$cache_dir/tmp.XXXXXX")"

# ---------------------------------------------------------------- 1. wheel
cached_wheel="$cache_dir/wheels/$wheel_file"
ensure_wheel() {
  if [ -f "$cached_wheel" ] && [ "$(sha256_of "$cached_wheel")" = "$wheel_sha256" ]; then return 0; fi
  mkdir -p "$cache_dir/wheels"
  local got
  if [ -n "$wheel_arg" ]; then
    [ -f "$wheel_arg" ] || unavailable "--wheel $wheel_arg does not exist"
    got="$wheel_arg"
  elif [ -n "$wheel_dir" ] && [ -f "$wheel_dir/$wheel_file" ]; then
    got="$wheel_dir/$wheel_file"
  elif [ "$offline" = 1 ]; then
    unavailable "$wheel_file is not cached in $cache_dir/wheels and --offline forbids downloading it (copy it there or pass --wheel FILE)"
  else
    local pip
    if command -v pip3 >/dev/null 2>&1; then pip=pip3
    elif command -v pip >/dev/null 2>&1; then pip=pip
    else unavailable "pip not found to download $wheel_file (pass --wheel FILE instead)"
    fi
    log "downloading $wheel_file from PyPI"
    "$pip" download --quiet --no-deps --only-binary=:all: --python-version "$WHEEL_PYTHON_VERSION" \
      --platform "$WHEEL_PLATFORM" -d "$tmp_root/wheel" "$wheel_project==$TF_VERSION" >&2 \
      || unavailable "pip download $wheel_project==$TF_VERSION failed"
    got="$tmp_root/wheel/$wheel_file"
    [ -f "$got" ] || unavailable "pip download did not produce $wheel_file"
  fi
  local sum
  sum="$(sha256_of "$got")"
  [ "$sum" = "$wheel_sha256" ] || unavailable "checksum mismatch for $got: sha256 $sum, expected $wheel_sha256"
  cp "$got" "$cached_wheel.part" && mv "$cached_wheel.part" "$cached_wheel"
}

# ---------------------------------------------------------------- 1b. CUDA wheels (GPU)
# Every NVIDIA wheel in CUDA_WHEELS, verified against its pinned sha256, in the cache.
ensure_cuda_wheels() {
  local project version file sha libs missing=() line
  while read -r project version file sha libs; do
    local cached="$cache_dir/wheels/$file"
    if [ -f "$cached" ] && [ "$(sha256_of "$cached")" = "$sha" ]; then continue; fi
    if [ -n "$wheel_dir" ] && [ -f "$wheel_dir/$file" ]; then
      [ "$(sha256_of "$wheel_dir/$file")" = "$sha" ] || unavailable "checksum mismatch for $wheel_dir/$file: expected $sha"
      mkdir -p "$cache_dir/wheels"
      cp "$wheel_dir/$file" "$cached.part" && mv "$cached.part" "$cached"
      continue
    fi
    missing+=("$project==$version --hash=sha256:$sha")
  done <<< "$cuda_wheels"
  [ "${#missing[@]}" = 0 ] && return 0
  [ "$offline" = 0 ] || unavailable "CUDA wheels not cached in $cache_dir/wheels and --offline forbids downloading them: ${missing[*]%% *} (pass --wheel-dir DIR)"
  local pip
  pip="$(find_pip)" || unavailable "pip not found to download the CUDA wheels (pass --wheel-dir DIR instead)"
  log "downloading ${#missing[@]} CUDA wheel(s) from PyPI: ${missing[*]%% --hash*}"
  # --require-hashes makes pip pick exactly the pinned file among a release's platform variants.
  printf '%s\n' "${missing[@]}" > "$tmp_root/cuda-requirements.txt"
  "$pip" download --quiet --no-deps --only-binary=:all: --require-hashes --python-version "$WHEEL_PYTHON_VERSION" \
    --platform "$WHEEL_PLATFORM" -d "$tmp_root/cuda-wheels" -r "$tmp_root/cuda-requirements.txt" >&2 \
    || unavailable "pip download of the CUDA wheels failed (${missing[*]%% --hash*})"
  mkdir -p "$cache_dir/wheels"
  while read -r project version file sha libs; do
    local cached="$cache_dir/wheels/$file"
    if [ -f "$cached" ] && [ "$(sha256_of "$cached")" = "$sha" ]; then continue; fi
    [ -f "$tmp_root/cuda-wheels/$file" ] || unavailable "pip download did not produce $file"
    [ "$(sha256_of "$tmp_root/cuda-wheels/$file")" = "$sha" ] || unavailable "checksum mismatch for $file: expected $sha"
    mv "$tmp_root/cuda-wheels/$file" "$cached"
  done <<< "$cuda_wheels"
}

find_pip() {
  if command -v pip3 >/dev/null 2>&1; then echo pip3
  elif command -v pip >/dev/null 2>&1; then echo pip
  else return 1
  fi
}

# Copies the listed CUDA/cuDNN libraries of every CUDA wheel flat into $1 (the staged deps/lib).
stage_cuda_libs() {
  local dest="$1" project version file sha libs lib
  log "staging the CUDA and cuDNN libraries from $(printf '%s\n' "$cuda_wheels" | wc -l) NVIDIA wheels"
  while read -r project version file sha libs; do
    local x="$tmp_root/cuda/$project" pats=()
    mkdir -p "$x"
    for lib in ${libs//,/ }; do pats+=("nvidia/*/lib/$lib"); done
    unzip_members "$cache_dir/wheels/$file" "$x" "${pats[@]}"
    for lib in ${libs//,/ }; do
      local found
      found="$(find "$x" -name "$lib" -type f | head -1)"
      [ -n "$found" ] || unavailable "$file has no $lib"
      mv "$found" "$dest/$lib"
    done
    rm -rf "$x"
  done <<< "$cuda_wheels"
  check_cuda_libs "$dest"
}

# Every soname libtensorflow asks for is there, and every staged CUDA library loads from
# there alone (its own deps found through its $ORIGIN RUNPATH). Needs no driver or GPU:
# the runtime libraries only dlopen libcuda.so.1 when a call needs a device. Also logs the
# version cuDNN reports (8906 for 8.9.6).
check_cuda_libs() {
  local dir="$1" so libs=()
  for so in $CUDA_REQUIRED_SONAMES; do [ -f "$dir/$so" ] || unavailable "the staged CUDA libraries lack $so (libtensorflow $TF_VERSION requires it)"; done
  local project version file sha list lib
  while read -r project version file sha list; do for lib in ${list//,/ }; do libs+=("$dir/$lib"); done; done <<< "$cuda_wheels"
  cat > "$tmp_root/dlcheck.c" <<'C'
/* Generated by scripts/install-tfjs-node.sh: loads each library given and reports why one does not. */
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
  size_t cudnn = 0;
  for (int i = 1; i < argc; i++) {
    void *h = dlopen(argv[i], RTLD_LAZY | RTLD_LOCAL);
    if (h == NULL) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    /* Needs no device, unlike the CUDA runtime's version query. */
    size_t (*version)(void) = (size_t (*)(void))dlsym(h, "cudnnGetVersion");
    if (version != NULL) cudnn = version();
  }
  printf("%d libraries, cudnnGetVersion %zu\n", argc - 1, cudnn);
  return 0;
}
C
  "${CC:-cc}" -O1 -o "$tmp_root/dlcheck" "$tmp_root/dlcheck.c" -ldl \
    || unavailable "could not compile the CUDA library load check"
  local out
  out="$("$tmp_root/dlcheck" "${libs[@]}" 2>&1)" || unavailable "a staged CUDA library does not load: $out"
  log "CUDA libraries load without a driver: $out"
}

# ---------------------------------------------------------------- 2. staged libtensorflow
# Extracts members of wheel $1 matching the given globs into $2.
unzip_members() {
  local wheel="$1" dest="$2"; shift 2
  if command -v unzip >/dev/null 2>&1; then
    unzip -q -o "$wheel" "$@" -d "$dest"
  elif command -v python3 >/dev/null 2>&1; then
    python3 - "$wheel" "$dest" "$@" <<'PY'
import fnmatch, sys, zipfile
wheel, dest, pats = sys.argv[1], sys.argv[2], sys.argv[3:]
with zipfile.ZipFile(wheel) as z:
    z.extractall(dest, [n for n in z.namelist() if any(fnmatch.fnmatch(n, p) for p in pats)])
PY
  else
    unavailable "neither unzip nor python3 is available to extract $(basename "$wheel")"
  fi
}

# C source defining every CPython symbol the pywrap library imports: data objects as
# zeroed blocks, functions as calls that abort loudly. The C API never calls them;
# they only have to exist for the dynamic loader.
write_pystub_source() {
  local lib="$1" out="$2" sym
  {
    echo '/* Generated by scripts/install-tfjs-node.sh: CPython stand-ins for libtensorflow from a wheel. */'
    echo '#include <stdio.h>'
    echo '#include <stdlib.h>'
    # shellcheck disable=SC2028 # the \n is for the C compiler, not for echo
    echo 'static void die(const char *name) { fprintf(stderr, "tfjs-node: CPython function %s called without Python\n", name); abort(); }'
    nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | grep -E '^_?Py' | sort -u | while read -r sym; do
      if [[ "$sym" =~ ^(PyExc_|_Py_.*Struct$|Py.*_Type$) ]]; then
        echo "__attribute__((visibility(\"default\"), aligned(64))) char ${sym}[1024];"
      else
        echo "__attribute__((visibility(\"default\"))) void $sym(void) { die(\"$sym\"); }"
      fi
    done
  } > "$out"
}

stage_libtensorflow() {
  if [ -f "$stage_dir/.complete" ] && [ "$(cat "$stage_dir/.complete")" = "$wheel_sha256$cuda_key" ]; then return 0; fi
  need_tool nm "lists the CPython symbols libtensorflow imports (binutils)"
  local cc="${CC:-cc}"
  need_tool "$cc" "compiles the CPython stub library"
  log "staging libtensorflow $TF_VERSION from $wheel_file"
  local x="$tmp_root/extract" s="$tmp_root/stage"
  unzip_members "$cached_wheel" "$x" "tensorflow/$FRAMEWORK_LIB" "tensorflow/python/$PYWRAP_LIB" \
    'tensorflow/include/tensorflow/c/*' 'tensorflow/include/tensorflow/core/platform/*'
  local lib
  for lib in "$x/tensorflow/$FRAMEWORK_LIB" "$x/tensorflow/python/$PYWRAP_LIB" "$x/tensorflow/include/tensorflow/c/c_api.h"; do
    [ -f "$lib" ] || unavailable "$wheel_file has no ${lib#"$x/"}"
  done
  # The C API (TF_*, TFE_*) is exported by the pywrap library, not by the framework library.
  # (grep without -q: an early exit would SIGPIPE nm and fail the pipeline.)
  nm -D --defined-only "$x/tensorflow/python/$PYWRAP_LIB" | grep -E ' T TFE_NewContext(@|$)' >/dev/null \
    || unavailable "$PYWRAP_LIB in $wheel_file does not export the TensorFlow C API (TFE_NewContext)"
  if [ "$variant" = gpu ]; then
    # A CPU-only libtensorflow never asks for the driver; the CUDA build's platform layer does.
    grep -aqF libcuda.so.1 "$x/tensorflow/$FRAMEWORK_LIB" \
      || unavailable "$wheel_file holds a libtensorflow without CUDA support (no reference to libcuda.so.1)"
  fi
  mkdir -p "$s/lib" "$s/include"
  mv "$x/tensorflow/include/tensorflow" "$s/include/"
  mv "$x/tensorflow/$FRAMEWORK_LIB" "$x/tensorflow/python/$PYWRAP_LIB" "$s/lib/"
  if [ "$variant" = gpu ]; then stage_cuda_libs "$s/lib"; fi
  write_pystub_source "$s/lib/$PYWRAP_LIB" "$tmp_root/pystub.c"
  "$cc" -shared -fPIC -O1 -Wl,-soname,"$PYSTUB_LIB" -o "$s/lib/$PYSTUB_LIB" "$tmp_root/pystub.c"
  (
    cd "$s/lib"
    # -ltensorflow: the pywrap library first, the stub after it, so that even with
    # --as-needed the linker records the stub (it satisfies the pywrap library's
    # undefined CPython symbols). Both then load beside the binding.
    printf '/* GNU ld script (scripts/install-tfjs-node.sh) */\nINPUT(%s %s)\n' "$PYWRAP_LIB" "$PYSTUB_LIB" > libtensorflow.so
    # The name tfjs-node's own scripts/install.js checks before downloading.
    ln -s libtensorflow.so "libtensorflow.so.$TF_VERSION"
    ln -s "$FRAMEWORK_LIB" libtensorflow_framework.so
    ln -s "$FRAMEWORK_LIB" "libtensorflow_framework.so.$TF_VERSION"
  )
  echo "$wheel_sha256$cuda_key" > "$s/.complete"
  rm -rf "$stage_dir"
  mkdir -p "$(dirname "$stage_dir")"
  mv "$s" "$stage_dir"
}

# ---------------------------------------------------------------- 3. the npm package
ensure_package() {
  if [ "$(installed_version)" = "$TFJS_NODE_VERSION" ]; then return 0; fi
  need_tool npm "installs $pkg_name"
  local mode=--prefer-offline
  if [ "$offline" = 1 ]; then mode=--offline; fi
  log "installing $pkg_name@$TFJS_NODE_VERSION with npm (scripts ignored: its install step would download)"
  (cd "$project" && npm install --no-save --ignore-scripts --no-audit --no-fund "$mode" "$pkg_name@$TFJS_NODE_VERSION" >&2) \
    || unavailable "npm install $pkg_name@$TFJS_NODE_VERSION failed"
  [ "$(installed_version)" = "$TFJS_NODE_VERSION" ] || unavailable "$pkg_name@$TFJS_NODE_VERSION is not in $project/node_modules after npm install"
}

# ---------------------------------------------------------------- 4. the binding
# find_node_gyp and find_node_headers
# shellcheck source=lib/node-gyp.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/node-gyp.sh"

build_binding() {
  local napi_version="$1" out="$2"
  local gyp nodedir
  gyp="$(find_node_gyp)" || unavailable "node-gyp not found (it ships with npm)"
  nodedir="$(find_node_headers)" || unavailable "Node.js headers (include/node/node_api.h) not found; install them or set npm_config_nodedir"
  need_tool python3 "node-gyp runs gyp with it"
  need_tool make "node-gyp builds with it"
  need_tool "${CXX:-c++}" "compiles the binding"
  local b="$tmp_root/build"
  mkdir -p "$b"
  cp -r "$pkg_dir/binding.gyp" "$pkg_dir/binding" "$b/"
  ln -s "$stage_dir" "$b/deps"
  log "building tfjs_binding.node (napi $napi_version, Node headers in $nodedir)"
  # shellcheck disable=SC2086 # $gyp is "node path/to/node-gyp.js"
  (cd "$b" && $gyp rebuild --nodedir="$nodedir" --napi_build_version="$napi_version" \
      --module_name=tfjs_binding --module_path="$b/out" --jobs="$(nproc 2>/dev/null || echo 1)" > "$tmp_root/build.log" 2>&1) \
    || { cp "$tmp_root/build.log" "$cache_dir/last-build.log"
         unavailable "node-gyp build of the binding failed: $(grep -m3 -E 'error|Error' "$tmp_root/build.log" | tr '\n' ' ')(full log: $cache_dir/last-build.log)"; }
  mkdir -p "$(dirname "$out")"
  cp "$b/build/Release/tfjs_binding.node" "$out.part" && mv "$out.part" "$out"
}

# ---------------------------------------------------------------- run
ensure_wheel
if [ "$variant" = gpu ]; then ensure_cuda_wheels; fi
stage_libtensorflow
ensure_package

bpath="$(binding_path)" || unavailable "cannot resolve the binding path with @mapbox/node-pre-gyp (is $pkg_name complete?)"
napi_dir="$(basename "$(dirname "$bpath")")"
napi_version="${napi_dir#napi-v}"
[[ "$napi_version" =~ ^[0-9]+$ ]] || unavailable "unexpected binding path $bpath"

addon="$cache_dir/addon/$variant-tfjs-node-$TFJS_NODE_VERSION-tf-$TF_VERSION-napi$napi_version-r$LAYOUT_REV/tfjs_binding.node"
if [ ! -f "$addon" ]; then build_binding "$napi_version" "$addon"; fi

# Place deps (hard links to the cache where possible: the pywrap library is ~450 MB) and the binding.
rm -rf "$pkg_dir/deps" "$(dirname "$bpath")"
mkdir -p "$pkg_dir/deps" "$(dirname "$bpath")"
cp -al "$stage_dir/lib" "$stage_dir/include" "$pkg_dir/deps/" 2>/dev/null \
  || { rm -rf "$pkg_dir/deps"; mkdir -p "$pkg_dir/deps"; cp -a "$stage_dir/lib" "$stage_dir/include" "$pkg_dir/deps/"; }
cp "$addon" "$bpath"

# A binding that is present but broken would be picked by backend selection, so any
# failed check removes it again.
drop_binding() { rm -f "$bpath" "$pkg_dir/deps/$STAMP_NAME"; }
if ! binding_loads "$bpath"; then
  err="$(node -e 'require(process.argv[1])' "$bpath" 2>&1 | grep -m1 -E 'Error' || true)"
  drop_binding
  unavailable "the built binding does not load: $err"
fi
if [ "$verify" = 1 ]; then
  if ! smoke="$(cd "$project" && node "$HELPER_DIR/smoke.mjs" "$pkg_name" 2>&1)"; then
    drop_binding
    unavailable "smoke test failed: $(echo "$smoke" | grep -v ' I tensorflow/' | tail -3 | tr '\n' ' ')"
  fi
  log "smoke test: $(echo "$smoke" | tail -1)"
fi
stamp_value "$napi_dir" > "$pkg_dir/deps/$STAMP_NAME"
device=
if [ "$variant" = gpu ] && [ "$verify" = 1 ]; then
  # Not a failure: images are built on machines without GPUs. The worker refuses tensorflow-gpu there.
  case "$smoke" in
    *'"isUsingGpuDevice":true'*) device='; TensorFlow uses a GPU here' ;;
    *) device='; no GPU device here, so TensorFlow computes on the CPU (the worker rejects tensorflow-gpu on such a node)' ;;
  esac
fi
echo "native backend installed: $pkg_name@$TFJS_NODE_VERSION on libtensorflow $TF_VERSION$(cuda_summary) from $wheel_file ($(( $(date +%s) - started ))s)$device"
