#!/usr/bin/env bash
# A runc front for dockerd (`--add-runtime`): removes the capabilities this
# host's bounding set lacks from every container and exec process, then runs
# the real runc with the same arguments.
#
# Why: `docker run --privileged` asks for every capability the daemon knows.
# On a VM whose capability bounding set lacks one (here CAP_SYS_RESOURCE),
# runc fails with "unable to apply caps: operation not permitted", and kind's
# node containers are privileged. Dropping what the host cannot grant anyway
# changes nothing a container could otherwise do.
#
# Environment: DAT_RUNC (the real runc, default: runc on PATH),
# DAT_RUNC_DROP_CAPS (space-separated, default: computed from /proc/self/status).
set -euo pipefail

real_runc="${DAT_RUNC:-$(command -v runc)}"

# Capabilities missing from this process's bounding set, by name.
missing_caps() {
  local bnd last i
  bnd=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
  last="$(cat /proc/sys/kernel/cap_last_cap)"
  local names=(CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID KILL SETGID SETUID SETPCAP
    LINUX_IMMUTABLE NET_BIND_SERVICE NET_BROADCAST NET_ADMIN NET_RAW IPC_LOCK IPC_OWNER SYS_MODULE
    SYS_RAWIO SYS_CHROOT SYS_PTRACE SYS_PACCT SYS_ADMIN SYS_BOOT SYS_NICE SYS_RESOURCE SYS_TIME
    SYS_TTY_CONFIG MKNOD LEASE AUDIT_WRITE AUDIT_CONTROL SETFCAP MAC_OVERRIDE MAC_ADMIN SYSLOG
    WAKE_ALARM BLOCK_SUSPEND AUDIT_READ PERFMON BPF CHECKPOINT_RESTORE)
  for ((i = 0; i <= last && i < ${#names[@]}; i++)); do
    (( (bnd >> i) & 1 )) || printf 'CAP_%s ' "${names[$i]}"
  done
}

# Removes the caps from every capability set of a JSON file (a bundle's
# config.json: .process.capabilities; an exec process file: .capabilities).
# Without CAP_SYS_RESOURCE a process cannot lower its oom_score_adj either, and
# runc's init dies on a lower request (kubelet asks -998 for critical pods):
# such requests are raised to this process's own value, the lowest it may set.
strip_caps() {
  local file="$1" caps="$2" tmp floor=-1000
  [[ -f "$file" && -n "$caps" ]] || return 0
  [[ " $caps " == *" CAP_SYS_RESOURCE "* ]] && floor="$(cat /proc/self/oom_score_adj)"
  tmp="$(mktemp "${file}.XXXXXX")"
  jq --arg drop "$caps" --argjson floor "$floor" '
    ($drop | split(" ") | map(select(. != ""))) as $d
    | def clean: if type == "object" then with_entries(.value |= (if type == "array" then map(select(. as $c | $d | index($c) | not)) else . end)) else . end;
      if .process.capabilities then .process.capabilities |= clean else . end
    | if .capabilities then .capabilities |= clean else . end
    | if (.process.oomScoreAdj // 1000) < $floor then .process.oomScoreAdj = $floor else . end
  ' "$file" > "$tmp"
  chmod --reference="$file" "$tmp"
  mv -f "$tmp" "$file"
}

drop="${DAT_RUNC_DROP_CAPS-$(missing_caps)}"
if [[ -n "$drop" ]]; then
  # Find the subcommand (the first argument that is not a global flag or its value) and its file arguments.
  cmd="" bundle="." process=""
  args=("$@")
  for ((i = 0; i < ${#args[@]}; i++)); do
    a="${args[$i]}"
    if [[ -z "$cmd" ]]; then
      case "$a" in
        --root | --log | --log-format | --criu | --rootless) i=$((i + 1)) ;;
        -*) ;;
        *) cmd="$a" ;;
      esac
      continue
    fi
    case "$a" in
      --bundle | -b) bundle="${args[$((i + 1))]}"; i=$((i + 1)) ;;
      --bundle=*) bundle="${a#--bundle=}" ;;
      --process | -p) process="${args[$((i + 1))]}"; i=$((i + 1)) ;;
      --process=*) process="${a#--process=}" ;;
    esac
  done
  case "$cmd" in
    create | run) strip_caps "${bundle}/config.json" "$drop" ;;
    exec) [[ -n "$process" ]] && strip_caps "$process" "$drop" ;;
  esac
fi
exec "$real_runc" "$@"
