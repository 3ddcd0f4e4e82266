#!/usr/bin/env bash
# Debian packages the air-gapped kind path needs, installed when missing (root; apt only):
# the docker engine (docker.io brings containerd and runc), debootstrap for the node's base,
# jq for the runtime wrapper and image manifests, busybox-static for small images.
set -euo pipefail
. "$(dirname "$0")/common.sh"
packages="docker.io debootstrap jq busybox-static iptables"
command -v dpkg >/dev/null || die "no dpkg: install $packages by other means"
missing=$(for p in $packages; do dpkg -s "$p" >/dev/null 2>&1 || echo "$p"; done | tr '\n' ' ')
[ -n "${missing// /}" ] || exit 0
[ "$(id -u)" = 0 ] || die "needs root: apt-get install -y $missing"
say "apt-get install -y $missing"
# The package lists as they are first (an update can fail where the install would not), then fresh ones.
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null; }
install || { apt-get update -qq && install; }
