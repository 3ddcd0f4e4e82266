#!/usr/bin/env bash
# A kind cluster of a release, ready for kubeproof's scenarios:
#   kind/up.sh RELEASE [NAME]      (context kind-NAME; NAME defaults to kubeproof)
# KIND_IMAGES=built (default here): the node image is made from files (kind/node-image.sh) and
# the docker engine is the private one (kind/dockerd.sh). KIND_IMAGES=official with
# KIND_IMAGE=kindest/node:…@sha256:… uses a pinned official image and whatever docker is set up.
# Then it waits for what `kind create --wait` does not (CoreDNS Ready, the default
# ServiceAccount); kubeproof loads its workload image itself when scenarios run pods.
set -euo pipefail
. "$(dirname "$0")/common.sh"
[ $# -ge 1 ] || { echo "usage: $0 RELEASE [NAME]" >&2; exit 2; }
# "latest": the newest release in kubeproof's cache (CI has just built it with `make test`); never
# a pre-release (v1.38.0-beta.0), as kubeproof's own `latest` never is.
if [ "$1" = latest ]; then
  # (an entry with a manifest: one being built has none yet)
  set -- "$(cd "$KP_CACHE/kubernetes" 2>/dev/null && ls -d v*/manifest.json | cut -d/ -f1 | grep -v -- - | sort -V | tail -1)" "${@:2}"
  [ -n "$1" ] || die "latest: no release in $KP_CACHE/kubernetes (kubeproof cluster install --node --version latest)"
fi
TAG=$(tag_of "$1")
V=${TAG#v}
NAME=${2:-kubeproof}
CONTEXT=kind-$NAME
IMAGES=${KIND_IMAGES:-built}
total=$(now)

if [ "$IMAGES" = built ]; then
  "$KIND_DIR/deps.sh"
  "$KIND_DIR/dockerd.sh" start
  image=$("$KIND_DIR/node-image.sh" "$V")
else
  unset DOCKER_HOST  # the machine's own docker
  image=${KIND_IMAGE:?KIND_IMAGES=official needs KIND_IMAGE (the Makefile sets it per release)}
fi
"$KIND_DIR/install-kind.sh"
if "$KIND_BIN" get clusters 2>/dev/null | grep -qx "$NAME"; then
  die "a kind cluster named $NAME exists (make kind-down CLUSTER=$NAME)"
fi

# kind-config.yaml plus what this machine and release need.
config=$KIND_HOME/$NAME.yaml
mkdir -p "$KIND_HOME"
{
  cat "$REPO_DIR/kind-config.yaml"
  if lacks_sys_resource; then
    # Without CAP_SYS_RESOURCE runc cannot write a negative oom_score_adj: every pod sandbox
    # fails "can't get final child's PID from pipe: EOF".
    printf 'containerdConfigPatches:\n- |-\n  [plugins."io.containerd.grpc.v1.cri"]\n    restrict_oom_score_adj = true\n'
  fi
  echo "kubeadmConfigPatches:"
  # kubelet 1.31+ refuses cgroup v1 unless told; the field does not exist before 1.31.
  if cgroup_v1 && version_ge "$V" 1.31; then
    printf -- '- |\n  kind: KubeletConfiguration\n  failCgroupV1: false\n'
  fi
  # 1.23's API server (its old gRPC client) and an etcd built by a current Go: RST_STREAM
  # PROTOCOL_ERROR on the shared port. Plain HTTP gets its own port, as kubeproof's own control
  # plane does for every release. Only for the built etcd, and up to 1.35, where kind writes
  # kubeadm v1beta3 (extraArgs a map); 1.37.2 was checked without it.
  if [ "$IMAGES" = built ] && ! version_ge "$V" 1.36; then
    printf -- '- |\n  kind: ClusterConfiguration\n  etcd:\n    local:\n      extraArgs:\n        listen-client-http-urls: https://127.0.0.1:2382\n'
  fi
  # Flag profiles (issue 25 §1: the catalogue's `requires: apiserver-args / controller-manager-args`):
  # KIND_APISERVER_ARGS / KIND_CONTROLLER_MANAGER_ARGS="--a=b --c=", one word per flag, added
  # to the static pods' command lines. kubeadm v1beta3 (< 1.36 in kind v0.33) has maps: a merge
  # patch adds keys. v1beta4 has {name, value} lists that a merge patch would replace (losing
  # kind's own args): a JSON 6902 append instead. A flag given again overrides kubeadm's value.
  json6902=""
  for component in apiServer controllerManager; do
    case $component in
      apiServer) args=${KIND_APISERVER_ARGS:-} ;;
      controllerManager) args=${KIND_CONTROLLER_MANAGER_ARGS:-} ;;
    esac
    [ -n "$args" ] || continue
    if version_ge "$V" 1.36; then
      for a in $args; do
        a=${a#--}; [[ $a == *=* ]] || a="$a=true"
        json6902+=$(printf '\n    - op: add\n      path: /%s/extraArgs/-\n      value: {name: "%s", value: "%s"}' "$component" "${a%%=*}" "${a#*=}")
      done
    else
      printf -- '- |\n  kind: ClusterConfiguration\n  %s:\n    extraArgs:\n' "$component"
      for a in $args; do
        a=${a#--}; [[ $a == *=* ]] || a="$a=true"
        printf '      "%s": "%s"\n' "${a%%=*}" "${a#*=}"
      done
    fi
  done
  if [ -n "$json6902" ]; then
    printf 'kubeadmConfigPatchesJSON6902:\n- group: kubeadm.k8s.io\n  version: v1beta4\n  kind: ClusterConfiguration\n  patch: |%b\n' "$json6902"
  fi
} >"$config"
# A lone "kubeadmConfigPatches:" with no item is not valid: drop it.
tail -1 "$config" | grep -qx 'kubeadmConfigPatches:' && sed -i '$d' "$config"

started=$(now)
say "kind create cluster --name $NAME --image $image (config $config)"
"$KIND_BIN" create cluster --name "$NAME" --image "$image" --config "$config" --wait 120s
say "kind create took $(since "$started")"

# kubectl of the release where kubeproof has built it, else the one on PATH.
kubectl=$KP_CACHE/kubernetes/$TAG/bin/kubectl
[ -x "$kubectl" ] || kubectl=kubectl
k() { "$kubectl" --context "$CONTEXT" "$@"; }

# What `--wait` does not cover: a namespace's default ServiceAccount (the service-account
# controller makes it asynchronously) and CoreDNS (for scenarios that resolve names).
started=$(now)
for _ in $(seq 120); do k -n default get serviceaccount default >/dev/null 2>&1 && break; sleep 1; done
k -n default get serviceaccount default >/dev/null || die "the default ServiceAccount did not appear within 120 s"
# Polled, not `kubectl wait`: on a busy machine the pods may not exist yet, and `wait` on no
# match fails at once.
for _ in $(seq 180); do
  [ "$(k -n kube-system get deployment coredns -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" -ge 1 ] 2>/dev/null && break
  sleep 1
done
[ "$(k -n kube-system get deployment coredns -o jsonpath='{.status.availableReplicas}' 2>/dev/null)" -ge 1 ] 2>/dev/null \
  || die "CoreDNS had no available replica within 180 s: $(k -n kube-system get pods -l k8s-app=kube-dns --no-headers 2>&1)"
say "default ServiceAccount and CoreDNS ready $(since "$started") after create"

# kubeproof's workload image (kubeproof.local/tools:vX.Y.Z) is not loaded here: kubeproof loads it
# itself, with `kind load image-archive`, when scenarios on a kind context run pods
# (src/cluster/kind.rs).
say "cluster $NAME ($TAG) up in $(since "$total"): KUBEPROOF_CONTEXT=$CONTEXT cargo test --test scenarios"
