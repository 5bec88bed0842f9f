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

# shellcheck source=../lib/python-venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/python-venv.sh"
readonly TORCH_VERSION=2.15.0
parse_venv_args "${BASH_SOURCE[0]}" "install-torch:" "$@"
ensure_pinned_venv "install-torch:" "${DAT_TORCH_VENV:-$HOME/.cache/dat-operator/venv-torch}" torch "$TORCH_VERSION" \
  'import torch.distributed as d, sys; sys.exit(0 if d.is_gloo_available() else 1)' "about 5 GiB of disk is needed" "$FORCE"
