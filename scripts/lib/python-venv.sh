# Sourced by scripts that install one pinned PyPI package into a cached virtual
# environment (the TensorBoard reader's venv, the gloo benchmark's PyTorch).
#
#   ensure_pinned_venv PREFIX VENV PACKAGE VERSION CHECK_PY HINT FORCE
#
# A stamp file in VENV records VERSION, so a rerun with the venv in place only
# runs CHECK_PY (Python code that must exit 0) and returns. Prints the venv's
# python on stdout; exits non-zero with "PREFIX <reason>" on stderr otherwise.
# HINT is added to the pip failure message (e.g. how much disk it needs).

ensure_pinned_venv() {
  local prefix="$1" venv="$2" package="$3" version="$4" check_py="$5" hint="$6" force="$7"
  local py="$venv/bin/python" stamp="$venv/.dat-${package}-version"
  fail() { echo "$prefix $*" >&2; exit 1; }
  check() { "$py" -c "$check_py" >/dev/null 2>&1; }

  if [ "$force" = 0 ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && check; then
    echo "$py"
    return 0
  fi
  command -v python3 >/dev/null || fail "python3 not found; install Python 3.10+ with its venv module"
  if [ ! -x "$py" ]; then
    # Only ever delete a virtual environment (pyvenv.cfg), never whatever the caller's variable names.
    if [ -e "$venv" ]; then
      [ -f "$venv/pyvenv.cfg" ] || fail "$venv exists and is not a virtual environment; remove it or point the venv variable elsewhere"
      rm -rf "$venv"
    fi
    mkdir -p "$(dirname "$venv")" 2>/dev/null || fail "cannot create $(dirname "$venv")"
    python3 -m venv "$venv" >&2 || fail "python3 -m venv $venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
  fi
  "$py" -m pip install --quiet --disable-pip-version-check "$package==$version" >&2 \
    || fail "pip install $package==$version failed (is PyPI reachable?${hint:+ $hint})"
  check || fail "$package $version installed in $venv but the check failed: $check_py"
  echo "$version" > "$stamp"
  echo "$prefix installed $package $version in $venv" >&2
  echo "$py"
}

# The --force / --help loop both installers share; sets FORCE.
parse_venv_args() {
  local script="$1" prefix="$2"; shift 2
  FORCE=0
  for a in "$@"; do
    case "$a" in
      --force) FORCE=1 ;;
      -h|--help) sed -n '2,/^set -Eeuo/p' "$script" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
      *) echo "$prefix unknown option $a (accepted: --force)" >&2; exit 2 ;;
    esac
  done
}
