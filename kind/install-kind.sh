#!/usr/bin/env bash
# kind, pinned, from its Go module (no binary download): into the cache dir's bin/.
set -euo pipefail
. "$(dirname "$0")/common.sh"
if [ -x "$KIND_BIN" ] && "$KIND_BIN" version 2>/dev/null | grep -q "kind $KIND_RELEASE "; then exit 0; fi
mkdir -p "$(dirname "$KIND_BIN")"
say "go install sigs.k8s.io/kind@$KIND_RELEASE into $(dirname "$KIND_BIN")"
started=$(now)
GOBIN=$(dirname "$KIND_BIN") CGO_ENABLED=0 nice -n 10 go install "sigs.k8s.io/kind@$KIND_RELEASE"
say "kind $KIND_RELEASE installed in $(since "$started")"
