#!/usr/bin/env bash
# `make bench-node`: `kubeproof cluster up --nodes 1` to a Ready node and a Running pod of
# kubeproof.local/tools, then `cluster down`, RUNS times (default 3) with the binaries and
# images cached; prints each run and the medians. Needs root and the node's Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
version=${KUBEPROOF_VERSION:-1.37.2}
runs=${RUNS:-3}
kubeproof=${KUBEPROOF:-target/release/kubeproof}
[ -x "$kubeproof" ] || { echo "error: $kubeproof not built (cargo build --release)" >&2; exit 2; }
"$kubeproof" cluster install --version "$version" --node >/dev/null
kubectl="${KUBEPROOF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kubeproof}/kubernetes/v${version}/bin/kubectl"
now() { date +%s.%N; }
ups=(); pods=(); downs=()
for i in $(seq "$runs"); do
  name="bench-node-$$-$i"
  t0=$(now)
  "$kubeproof" cluster up --version "$version" --nodes 1 --name "$name" >/dev/null
  t1=$(now)
  export KUBECONFIG="$(dirname "$kubectl")/../../../clusters/$name/kubeconfig"
  "$kubectl" run bench --image="kubeproof.local/tools:v${version}" --image-pull-policy=Never --command -- sleep 3600 >/dev/null
  "$kubectl" wait --for=condition=Ready pod/bench --timeout=120s >/dev/null
  t2=$(now)
  "$kubeproof" cluster down --name "$name" >/dev/null
  t3=$(now)
  ups+=("$(echo "$t1 - $t0" | bc)"); pods+=("$(echo "$t2 - $t0" | bc)"); downs+=("$(echo "$t3 - $t2" | bc)")
  printf 'run %d: up to Ready node %.2f s, to Running pod %.2f s, down %.2f s\n' "$i" "${ups[-1]}" "${pods[-1]}" "${downs[-1]}"
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf 'median of %d (load average %s): up to Ready node %.2f s, to Running pod %.2f s, down %.2f s\n' \
  "$runs" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(median "${ups[@]}")" "$(median "${pods[@]}")" "$(median "${downs[@]}")"
