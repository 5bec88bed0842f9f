# shellcheck shell=bash
# Sourced by the setup scripts: installs the Debian packages that provide
# missing commands, so a fresh machine needs nothing installed by hand.
#   ensure_commands CALLER COMMAND:PACKAGE...
# Installs (as root, one apt-get run) the packages whose command is missing;
# without root it exits 1 with the apt-get line to run.
ensure_commands() {
  local caller="$1" pair missing=()
  shift
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ "$(id -u)" != 0 ]]; then
    printf '%s: error: missing Debian packages; as root: apt-get install %s\n' "${caller}" "${missing[*]}" >&2
    exit 1
  fi
  printf '%s: installing Debian packages: %s\n' "${caller}" "${missing[*]}" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}
