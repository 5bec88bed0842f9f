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

readonly TENSORBOARD_VERSION=2.21.0
readonly LOG_PREFIX="install-tensorboard-venv:"
venv="${DAT_TENSORBOARD_VENV:-$HOME/.cache/dat-operator/venv-tensorboard}"
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
stamp="$venv/.dat-tensorboard-version"
check() { "$py" -c 'from tensorboard.backend.event_processing import event_accumulator' >/dev/null 2>&1; }

if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$TENSORBOARD_VERSION" ] && check; then
  echo "$py"
  exit 0
fi

command -v python3 >/dev/null || fail "python3 not found; install Python 3.9+ with its venv module"
# Only ever delete a virtual environment (pyvenv.cfg), never whatever DAT_TENSORBOARD_VENV names.
if [ -e "$venv" ]; then
  [ -f "$venv/pyvenv.cfg" ] || fail "$venv exists and is not a virtual environment; remove it or set DAT_TENSORBOARD_VENV"
  rm -rf "$venv"
fi
mkdir -p "$(dirname "$venv")" 2>/dev/null || fail "cannot create $(dirname "$venv")"
python3 -m venv "$venv" >&2 || fail "python3 -m venv $venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
"$py" -m pip install --quiet --disable-pip-version-check "tensorboard==$TENSORBOARD_VERSION" >&2 \
  || fail "pip install tensorboard==$TENSORBOARD_VERSION failed (is PyPI reachable?)"
check || fail "tensorboard $TENSORBOARD_VERSION installed in $venv but its event_accumulator does not import"
echo "$TENSORBOARD_VERSION" > "$stamp"
echo "$LOG_PREFIX installed tensorboard $TENSORBOARD_VERSION in $venv" >&2
echo "$py"
