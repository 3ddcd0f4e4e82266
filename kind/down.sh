#!/usr/bin/env bash
# Deletes a kind cluster; with no kind cluster left, stops the private docker engine too
# (kind/dockerd.sh stop: nothing of it stays running, mounted or in the cgroup and iptables
# trees). KIND_KEEP_DOCKERD=1 keeps it running. Safe to run when nothing is up.
#   kind/down.sh [NAME]
set -euo pipefail
. "$(dirname "$0")/common.sh"
NAME=${1:-kubeproof}
[ "${KIND_IMAGES:-built}" = built ] || unset DOCKER_HOST
if [ -x "$KIND_BIN" ] && docker version >/dev/null 2>&1; then
  if "$KIND_BIN" get clusters 2>/dev/null | grep -qx "$NAME"; then
    started=$(now)
    "$KIND_BIN" delete cluster --name "$NAME"
    say "kind delete took $(since "$started")"
  fi
fi
rm -f "$KIND_HOME/$NAME.yaml"  # the config kind/up.sh wrote for it
if [ "${KIND_IMAGES:-built}" = built ] && [ "${KIND_KEEP_DOCKERD:-0}" != 1 ]; then
  if ! "$KIND_DIR/dockerd.sh" status >/dev/null 2>&1 || [ -z "$("$KIND_BIN" get clusters 2>/dev/null)" ]; then
    "$KIND_DIR/dockerd.sh" stop
  else
    say "other kind clusters remain ($("$KIND_BIN" get clusters | tr '\n' ' ')): dockerd keeps running"
  fi
fi
