#!/usr/bin/env bash
# The scenario suite on a kind cluster: KUBEPROOF_CONTEXT=kind-NAME cargo test --test scenarios.
#   kind/test.sh [NAME] [cargo test args…]
# Until kubeproof picks the server's kubectl itself (issue 25 §1), KUBEPROOF_KUBECTL names the
# release's kubectl from kubeproof's cache (unless already set): the kubectl first on PATH, of
# another minor, fails the scenarios that read kubectl's own output (`Error:` vs `error:`,
# `create token` on 1.23, verbose log lines).
set -euo pipefail
. "$(dirname "$0")/common.sh"
NAME=${1:-kubeproof}
shift || true
[ "${KIND_IMAGES:-built}" = built ] || unset DOCKER_HOST
tag=$(docker exec "$NAME-control-plane" cat /kind/version 2>/dev/null || true)
if [ -n "${KUBEPROOF_KUBECTL:-}" ]; then
  say "kubectl steps use KUBEPROOF_KUBECTL=$KUBEPROOF_KUBECTL"
elif [ -n "$tag" ] && [ -x "$KP_CACHE/kubernetes/$tag/bin/kubectl" ]; then
  export KUBEPROOF_KUBECTL=$KP_CACHE/kubernetes/$tag/bin/kubectl
  say "kubectl steps use the release's: KUBEPROOF_KUBECTL=$KUBEPROOF_KUBECTL"
else
  say "no kubectl ${tag:-of the release} in kubeproof's cache: kubectl steps use $(command -v kubectl || echo none)"
fi
cd "$REPO_DIR"
KUBEPROOF_CONTEXT=kind-$NAME exec cargo test --test scenarios "$@"
