#!/usr/bin/env bash
# A private docker engine for kind: Debian's dockerd started by hand (no systemd needed), with
# its own data-root, exec-root, socket, pidfile and cgroup parent, so it never collides with a
# system docker and everything it made can be found and removed.
#   kind/dockerd.sh start   start it (idempotent); clients use DOCKER_HOST=unix://$KP_DOCKER_SOCK
#   kind/dockerd.sh stop    remove every container and network it has, stop it, and remove what
#                           it leaves on the host (mounts, cgroups, iptables chains, ip_forward)
#   kind/dockerd.sh status
# Images stay in the data-root (and as archives under the cache dir), so a restart is warm.
set -euo pipefail
. "$(dirname "$0")/common.sh"

running() { [ -f "$KP_DOCKER_PID" ] && kill -0 "$(cat "$KP_DOCKER_PID")" 2>/dev/null; }

start() {
  if running; then say "dockerd already running (pid $(cat "$KP_DOCKER_PID"))"; return; fi
  command -v dockerd >/dev/null || die "no dockerd: run kind/deps.sh (Debian's docker.io)"
  [ "$(id -u)" = 0 ] || die "the private dockerd needs root"
  mkdir -p "$KP_DOCKER_ROOT" "$KP_DOCKER_RUN" "$KIND_HOME"
  local args=(
    --data-root "$KP_DOCKER_ROOT" --exec-root "$KP_DOCKER_RUN" --pidfile "$KP_DOCKER_PID"
    -H "unix://$KP_DOCKER_SOCK" --cgroup-parent "/$KP_DOCKER_CGROUP"
    # No docker0: kind makes its own network, the image builds here use --network none.
    --bridge none
    --log-level warn
  )
  if lacks_sys_resource; then
    say "this machine's capability bounding set lacks CAP_SYS_RESOURCE: containers run through kind/runc-wrapper.sh"
    args+=(--add-runtime "kp-runc=$KIND_DIR/runc-wrapper.sh" --default-runtime kp-runc)
  fi
  # What stop puts back: dockerd turns on IP forwarding.
  cat /proc/sys/net/ipv4/ip_forward >"$KP_DOCKER_RUN.ip_forward"
  say "starting dockerd ($(dockerd --version | cut -d, -f1)), socket $KP_DOCKER_SOCK, log $KIND_HOME/dockerd.log"
  setsid dockerd "${args[@]}" >"$KIND_HOME/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 60); do
    if docker version >/dev/null 2>&1; then return; fi
    sleep 1
  done
  tail -20 "$KIND_HOME/dockerd.log" >&2
  die "dockerd did not answer on $KP_DOCKER_SOCK within 60 s"
}

stop() {
  if running; then
    local ids nets
    ids=$(docker ps -aq)
    [ -z "$ids" ] || { say "removing containers: $(echo $ids)"; docker rm -f -v $ids >/dev/null; }
    nets=$(docker network ls -q --filter type=custom)
    [ -z "$nets" ] || docker network rm $nets >/dev/null
    docker volume prune -f >/dev/null
    local pid; pid=$(cat "$KP_DOCKER_PID")
    kill -TERM "$pid"
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && die "dockerd (pid $pid) did not stop in 30 s"
  fi
  # The engine's containerd and shims are its children; name any that outlived it.
  local left
  left=$(pgrep -f -- "$KP_DOCKER_RUN" || true)
  [ -z "$left" ] || die "processes still using $KP_DOCKER_RUN: $(echo $left) (not killed: check them)"
  # Mounts under its directories (netns files, overlay layers), deepest first.
  awk -v a="$KP_DOCKER_ROOT" -v b="$KP_DOCKER_RUN" 'index($2, a) == 1 || index($2, b) == 1 {print $2}' /proc/self/mounts \
    | sort -r | while read -r m; do umount -l "$m"; done
  rm -rf "$KP_DOCKER_RUN" "$KP_DOCKER_SOCK" "$KP_DOCKER_PID"
  # Its cgroups (one tree per v1 controller, or the v2 one), deepest first.
  find /sys/fs/cgroup -depth -type d -path "*/$KP_DOCKER_CGROUP*" -exec rmdir {} + 2>/dev/null || true
  # Its iptables chains (filter and nat), and the jumps into them.
  if command -v iptables-save >/dev/null; then
    for table in filter nat; do
      { iptables-save -t "$table" | grep -E '^-A .* -j DOCKER' || true; } | sed 's/^-A/-D/' | while read -r rule; do
        eval "iptables -t $table $rule" 2>/dev/null || true
      done
      for chain in $(iptables-save -t "$table" | awk '/^:DOCKER/ {print substr($1, 2)}'); do
        iptables -t "$table" -F "$chain" && iptables -t "$table" -X "$chain"
      done
    done
  fi
  if [ -f "$KP_DOCKER_RUN.ip_forward" ]; then
    cat "$KP_DOCKER_RUN.ip_forward" >/proc/sys/net/ipv4/ip_forward
    rm -f "$KP_DOCKER_RUN.ip_forward"
  fi
  say "dockerd stopped; nothing of it is left running or mounted"
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) if running; then echo "running (pid $(cat "$KP_DOCKER_PID"), DOCKER_HOST=$DOCKER_HOST)"; else echo stopped; exit 1; fi ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
