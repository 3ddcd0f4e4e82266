# Sourced by the kind/*.sh scripts: where things live and a few helpers.
# Everything kubeproof's kind path makes is under the same cache root as kubeproof's own
# binaries (src/cluster/local/install.rs: KUBEPROOF_CACHE_DIR, else $XDG_CACHE_HOME/kubeproof,
# else ~/.cache/kubeproof), except the docker engine's state, which wants a real filesystem
# (overlay2 cannot stack on overlayfs) and root: /var/lib and /run.
KP_CACHE=${KUBEPROOF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeproof}
KIND_HOME=$KP_CACHE/kind
# kind pinned: v0.33.0 is the newest release and still supports 1.23 (kubeadm v1beta3).
KIND_RELEASE=${KIND_RELEASE:-v0.33.0}
KIND_BIN=$KIND_HOME/bin/kind
# The private docker engine: its own state, socket and pidfile, so it never meets a system one.
KP_DOCKER_ROOT=${KP_DOCKER_ROOT:-/var/lib/kubeproof-docker}
KP_DOCKER_RUN=${KP_DOCKER_RUN:-/run/kubeproof-docker}
KP_DOCKER_SOCK=$KP_DOCKER_RUN.sock
KP_DOCKER_PID=$KP_DOCKER_RUN.pid
KP_DOCKER_CGROUP=kubeproof-docker  # cgroup parent of every container: easy to find and remove
export DOCKER_HOST=unix://$KP_DOCKER_SOCK
# The kubeproof command (the Makefile passes its own).
KUBEPROOF=${KUBEPROOF:-cargo run --quiet --}
KIND_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$KIND_DIR")

say() { echo "kind: $*" >&2; }
die() { echo "kind: error: $*" >&2; exit 1; }

# "1.37.2" or "v1.37.2" -> "v1.37.2"
tag_of() { echo "v${1#v}"; }
# 0 when release $1 is at least $2 (both X.Y[.Z], no v).
version_ge() { [ "$(printf '%s\n%s\n' "${1#v}" "${2#v}" | sort -V | head -1)" = "${2#v}" ]; }

# The VM this was made on lacks CAP_SYS_RESOURCE (bit 24) in its bounding set; docker's
# --privileged asks for every capability, so runc fails "unable to apply caps". Detected, not assumed.
lacks_sys_resource() {
  local bnd
  bnd=$(awk '/^CapBnd:/ {print $2}' /proc/self/status)
  (( ((16#$bnd) >> 24 & 1) == 0 ))
}

# cgroup v1 (or hybrid) hosts: kubelet 1.31+ refuses them unless told otherwise.
cgroup_v1() { [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ]; }

# Seconds since the epoch with decimals, and "12.3s" since then, for timings in the logs.
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.1fs", b - a}'; }
