#!/usr/bin/env bash
# Installs PyTorch from PyPI into a cached virtual environment, for the gloo
# column of `npm run bench:allreduce` only (bench/gloo_allreduce.py runs
# torch.distributed's gloo all-reduce, the DAT reference's CPU collective).
#
# PyPI serves no `+cpu` build of torch for Linux x86_64: `torch` there is the
# CUDA build and pulls the nvidia-* wheels (several GiB). It runs on the CPU
# all the same, and gloo is CPU-only, so that build is what gets installed.
#
# The venv lives in ${DAT_TORCH_VENV:-~/.cache/dat-operator/venv-torch}; a stamp
# file records the pinned version, so a rerun with the venv in place only checks
# that torch imports with gloo and exits. Prints the venv's python on stdout.
#
# Exits non-zero with "install-torch: <reason>" on stderr when the venv cannot
# be created (no python3, no venv module, PyPI unreachable, disk full).
#
# Usage: scripts/bench/install-torch.sh [--force]
set -Eeuo pipefail

readonly TORCH_VERSION=2.15.0
readonly LOG_PREFIX="install-torch:"
venv="${DAT_TORCH_VENV:-$HOME/.cache/dat-operator/venv-torch}"
force=0
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    -h|--help) sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$LOG_PREFIX unknown option $a (accepted: --force)" >&2; exit 2 ;;
  esac
done

fail() { echo "$LOG_PREFIX $*" >&2; exit 1; }
py="$venv/bin/python"
stamp="$venv/.dat-torch-version"
check() { "$py" -c 'import torch.distributed as d, sys; sys.exit(0 if d.is_gloo_available() else 1)' >/dev/null 2>&1; }

if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TORCH_VERSION" ] && check; then
  echo "$py"
  exit 0
fi

command -v python3 >/dev/null || fail "python3 not found; install Python 3.10+ with its venv module"
if [ ! -x "$py" ]; then
  # Only ever delete a virtual environment (pyvenv.cfg), never whatever DAT_TORCH_VENV names.
  if [ -e "$venv" ]; then
    [ -f "$venv/pyvenv.cfg" ] || fail "$venv exists and is not a virtual environment; remove it or set DAT_TORCH_VENV"
    rm -rf "$venv"
  fi
  mkdir -p "$(dirname "$venv")" 2>/dev/null || fail "cannot create $(dirname "$venv")"
  python3 -m venv "$venv" >&2 || fail "python3 -m venv $venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
fi
"$py" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" >&2 \
  || fail "pip install torch==$TORCH_VERSION failed (is PyPI reachable? about 5 GiB of disk is needed)"
check || fail "torch $TORCH_VERSION installed in $venv but torch.distributed has no gloo backend"
echo "$TORCH_VERSION" > "$stamp"
echo "$LOG_PREFIX installed torch $TORCH_VERSION in $venv" >&2
echo "$py"
