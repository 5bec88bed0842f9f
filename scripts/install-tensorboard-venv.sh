#!/usr/bin/env bash
# Installs the `tensorboard` Python package from PyPI into a cached virtual
# environment, for the test that reads the worker's TensorBoard event files back
# with TensorBoard's own loader (test/worker/telemetry/tensorboard/).
#
# The venv lives in ${DAT_TENSORBOARD_VENV:-~/.cache/dat-operator/venv-tensorboard}; a
# stamp file records the pinned version, so a rerun with the venv in place only
# checks that it imports and exits. Prints the venv's python on stdout.
#
# Exits non-zero with "install-tensorboard-venv: <reason>" on stderr when the venv
# cannot be created (no python3, no venv module, PyPI unreachable): the test
# reports that message instead of skipping.
#
# Usage: scripts/install-tensorboard-venv.sh [--force]
set -Eeuo pipefail

# shellcheck source=lib/python-venv.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/python-venv.sh"
readonly TENSORBOARD_VERSION=2.21.0
parse_venv_args "${BASH_SOURCE[0]}" "install-tensorboard-venv:" "$@"
ensure_pinned_venv "install-tensorboard-venv:" "${DAT_TENSORBOARD_VENV:-$HOME/.cache/dat-operator/venv-tensorboard}" tensorboard "$TENSORBOARD_VERSION" \
  'from tensorboard.backend.event_processing import event_accumulator' "" "$FORCE"
