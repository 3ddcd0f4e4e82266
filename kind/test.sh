#!/usr/bin/env bash
# The scenario suite on a kind cluster: KUBEPROOF_CONTEXT=kind-NAME cargo test --test scenarios.
#   kind/test.sh [NAME] [cargo test args…]
# kubeproof runs kubectl steps with the server's own release's kubectl when it has that release
# installed (else the kubectl on PATH, or KUBEPROOF_KUBECTL when set): a kubectl of another minor
# words its output otherwise (`Error:` vs `error:`, `create token` on 1.23, verbose log lines).
set -euo pipefail
. "$(dirname "$0")/common.sh"
NAME=${1:-kubeproof}
shift || true
[ "${KIND_IMAGES:-built}" = built ] || unset DOCKER_HOST
tag=$(docker exec "$NAME-control-plane" cat /kind/version 2>/dev/null || true)
if [ -n "${KUBEPROOF_KUBECTL:-}" ]; then
  say "kubectl steps use KUBEPROOF_KUBECTL=$KUBEPROOF_KUBECTL"
elif [ -n "$tag" ] && [ -x "$KP_CACHE/kubernetes/$tag/bin/kubectl" ]; then
  say "kubectl steps use the release's own: $KP_CACHE/kubernetes/$tag/bin/kubectl"
else
  say "no kubectl ${tag:-of the release} in kubeproof's cache: kubectl steps use $(command -v kubectl || echo none)"
fi
cd "$REPO_DIR"
KUBEPROOF_CONTEXT=kind-$NAME exec cargo test --test scenarios "$@"
