#!/usr/bin/env bash
# A runtime for dockerd on machines whose capability bounding set lacks CAP_SYS_RESOURCE.
# dockerd (through containerd's shim) calls it exactly like runc. Before runc sees an OCI spec,
# it drops CAP_SYS_RESOURCE and any negative oomScoreAdj from it (neither can be granted here):
#   create/run: <bundle>/config.json (.process.capabilities, .process.oomScoreAdj)
#   exec:       the --process FILE spec (.capabilities, .oomScoreAdj) — kind works through
#               `docker exec --privileged`, which fails the same way without this.
# Then it execs the real runc with the same arguments. Used only when kind/dockerd.sh detects
# the missing capability.
set -euo pipefail
RUNC=${KP_REAL_RUNC:-/usr/sbin/runc}
cmd="" bundle="" process=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  a=${args[i]}
  case $a in
    --bundle|-b) bundle=${args[i+1]:-} ;;
    --bundle=*) bundle=${a#--bundle=} ;;
    --process|-p) process=${args[i+1]:-} ;;
    --process=*) process=${a#--process=} ;;
    create|run|exec) [ -z "$cmd" ] && cmd=$a ;;
  esac
done
strip() { # $1: file, $2: jq path of the process object ("" or ".process")
  local f=$1 p=$2 tmp
  [ -f "$f" ] || return 0
  tmp=$(mktemp "$f.XXXXXX")
  jq "if $p.capabilities then $p.capabilities |= map_values(if type == \"array\" then map(select(. != \"CAP_SYS_RESOURCE\")) else . end) else . end
      | if ($p.oomScoreAdj // 0) < 0 then del($p.oomScoreAdj) else . end" "$f" >"$tmp"
  mv "$tmp" "$f"
}
case $cmd in
  create|run) strip "${bundle:-.}/config.json" .process ;;
  exec) [ -n "$process" ] && strip "$process" "" ;;
esac
exec "$RUNC" "$@"
