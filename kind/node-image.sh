#!/usr/bin/env bash
# A kind node image for a Kubernetes release, made with no registry: what `kind build
# node-image` makes, but from files (kind's own builder fetches etcd, CoreDNS, pause, kindnetd
# and local-path-* from registries inside its build container). See docs/kind.md.
#   kind/node-image.sh 1.37.2     -> docker image kubeproof.local/kind-node:v1.37.2 (printed)
# Pieces:
#   base      Debian bookworm by debootstrap from the machine's apt mirror, with systemd,
#             containerd, runc, CNI plugins, iptables…, plus kind's own files from its Go module
#             (entrypoint, systemd units, containerd config). Cached as a docker image.
#   binaries  kubelet, kubectl, kube-* as kubeproof builds them (cluster install --node), and
#             kubeadm built the same way in the same cached wrapper module.
#   images    control plane FROM scratch, kube-proxy FROM base (it needs iptables), etcd as
#             kubeproof builds it, CoreDNS, local-path-provisioner, crictl and a pause from their
#             Go modules, busybox-static as local-path's helper, all under the names kubeadm
#             and kind ask for; loaded into the node's containerd like kind does.
#   CNI       kindnetd cannot be built here (not served by the module proxy), so a static
#             ptp + host-local conflist (one node) and a stub default-cni.yaml.
# The result is cached as a docker-save archive under $KIND_HOME/images, keyed by its inputs, so
# a fresh or restarted dockerd loads it (seconds) instead of building it again.
set -euo pipefail
. "$(dirname "$0")/common.sh"

[ $# = 1 ] || { echo "usage: $0 RELEASE (e.g. 1.37.2)" >&2; exit 2; }
TAG=$(tag_of "$1")
V=${TAG#v}
NODE_IMAGE=kubeproof.local/kind-node:$TAG
# Add-ons from the Go module proxy, pinned. One CoreDNS serves every release (tagged as the one
# kubeadm asks for: 1.23's v1.8.6 does not build with a current Go).
COREDNS_MODULE=github.com/coredns/coredns@${KIND_COREDNS:-v1.14.6}
LOCAL_PATH_MODULE=github.com/rancher/local-path-provisioner@${KIND_LOCAL_PATH:-v0.0.30}
CRICTL_MODULE=sigs.k8s.io/cri-tools/cmd/crictl@${KIND_CRICTL:-v1.37.0}
# What goes into the base (kind's images/base/Dockerfile list, with Debian's containerd and
# runc instead of kind's own builds, and its CNI plugins for the static configuration).
BASE_PACKAGES=systemd,dbus,containerd,runc,containernetworking-plugins,conntrack,iptables,nftables,iproute2,ethtool,util-linux,mount,kmod,libseccomp2,pigz,socat,bash,ca-certificates,jq,procps,e2fsprogs
KIND_SRC=""
ADDONS=$KIND_HOME/addons/bin
export DOCKER_BUILDKIT=0  # the classic builder: nothing here needs BuildKit, and 20.10's is old
# Debian's own docker CLI for builds where it is (a newer CLI first on PATH calls the classic
# builder deprecated at every build).
dbuild() { if [ -x /usr/bin/docker ]; then /usr/bin/docker build "$@"; else docker build "$@"; fi; }

# --- the release's binaries --------------------------------------------------------------
k8s_dir=$KP_CACHE/kubernetes/$TAG
etcd_dir=  # set by release_binaries

release_binaries() {
  local b out
  for b in kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy; do
    if [ ! -x "$k8s_dir/bin/$b" ]; then
      say "building Kubernetes $TAG and its node binaries the way kubeproof does (cluster install --node)"
      break
    fi
  done
  # Instant when all is cached. It also names the etcd kubeproof pairs with the release (kubeadm's
  # etcd minor at its newest patch: install.rs etcd_version_for), built here when missing.
  # Built from the Go modules unless told otherwise: the air-gapped path tries no download site.
  out=$(cd "$REPO_DIR" && KUBEPROOF_SOURCE=${KUBEPROOF_SOURCE:-build} nice -n 10 $KUBEPROOF cluster install --node --version "$V")
  etcd_dir=$(echo "$out" | sed -n 's|^etcd: \(.*\)/bin/etcd$|\1|p')
  [ -x "$etcd_dir/bin/etcd" ] || die "kubeproof cluster install --version $V named no etcd: $out"
}

# kubeadm of the same release, built like install.rs builds the others: in the release's
# wrapper module, CGO off, -mod=mod, the same version ldflags (so `kubeadm version` is $TAG).
kubeadm_binary() {
  local out=$KIND_HOME/$TAG/kubeadm
  if [ -x "$out" ] && "$out" version -o short 2>/dev/null | grep -qx "$TAG"; then echo "$out"; return; fi
  [ -f "$k8s_dir/module/go.mod" ] || die "no wrapper module in $k8s_dir/module (kubeproof's build of $TAG)"
  local commit flags date pkg started
  commit=$(cd /tmp && go mod download -json "k8s.io/kubernetes@$TAG" | jq -r '.Origin.Hash // ""')
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  flags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    flags+=" -X $pkg.gitVersion=$TAG -X $pkg.gitMajor=${V%%.*} -X $pkg.gitMinor=$(echo "$V" | cut -d. -f2)"
    flags+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  mkdir -p "$(dirname "$out")"
  say "building kubeadm $TAG in $k8s_dir/module"
  started=$(now)
  (cd "$k8s_dir/module" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
    nice -n 10 go build -trimpath -ldflags "$flags" -o "$out" k8s.io/kubernetes/cmd/kubeadm) >&2
  say "kubeadm built in $(since "$started")"
  echo "$out"
}

# --- add-ons from Go modules --------------------------------------------------------------
addons() {
  mkdir -p "$ADDONS"
  local m name started
  for m in "$COREDNS_MODULE" "$LOCAL_PATH_MODULE" "$CRICTL_MODULE"; do
    name=$(basename "${m%@*}")
    [ -f "$ADDONS/$name.version" ] && [ "$(cat "$ADDONS/$name.version")" = "$m" ] && continue
    say "go install $m"
    started=$(now)
    (cd /tmp && GOBIN=$ADDONS CGO_ENABLED=0 GOFLAGS=-buildvcs=false nice -n 10 go install -ldflags '-s -w' "$m") >&2
    echo "$m" >"$ADDONS/$name.version"
    say "$name built in $(since "$started")"
  done
  if [ ! -x "$ADDONS/pause" ] || [ "$KIND_DIR/pause/main.go" -nt "$ADDONS/pause" ]; then
    (cd "$KIND_DIR/pause" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$ADDONS/pause" .) >&2
  fi
}

# --- the base -------------------------------------------------------------------------------
kind_source() {
  KIND_SRC=$(cd /tmp && go mod download -json "sigs.k8s.io/kind@$KIND_RELEASE" | jq -r .Dir)
  [ -d "$KIND_SRC/images/base/files" ] || die "no images/base/files in kind's module at $KIND_SRC"
}

# The machine's own Debian mirror (the only one reachable on an air-gapped machine).
debian_mirror() {
  [ -n "${KIND_DEBIAN_MIRROR:-}" ] && { echo "$KIND_DEBIAN_MIRROR"; return; }
  local m
  m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}')
  [ -n "$m" ] || m=$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
  echo "${m:-http://deb.debian.org/debian}"
}

base_image() {
  local key image root started
  key=$( (echo "$KIND_RELEASE $BASE_PACKAGES"; sed -n '/^base_image()/,/^}/p' "$0") | sha256sum | cut -c1-12)
  image=kubeproof.local/kind-base:$key
  if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; return; fi
  root=$(mktemp -d /var/tmp/kubeproof-kind-base.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  say "debootstrap bookworm from $(debian_mirror) (the node's base, once per kind release)"
  started=$(now)
  nice -n 10 debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$root/fs" "$(debian_mirror)" >"$root/debootstrap.log" 2>&1 \
    || { tail -20 "$root/debootstrap.log" >&2; die "debootstrap failed"; }
  local f=$KIND_SRC/images/base/files fs=$root/fs
  # kind's files, laid out as its Dockerfile COPYs them.
  install -m 0755 "$f"/usr/local/bin/* "$fs/usr/local/bin/"
  mkdir -p "$fs/kind/bin" "$fs/etc/containerd" "$fs/etc/systemd/system/kubelet.service.d" "$fs/etc/kubernetes/manifests"
  install -m 0755 "$f"/kind/bin/* "$fs/kind/bin/"
  install -m 0644 "$f/etc/crictl.yaml" "$fs/etc/"
  install -m 0644 "$f/etc/containerd/config.toml" "$fs/etc/containerd/"
  install -m 0644 "$f"/etc/default/* "$fs/etc/default/"
  install -m 0644 "$f"/etc/sysctl.d/* "$fs/etc/sysctl.d/"
  install -m 0644 "$f"/etc/systemd/system/*.service "$f"/etc/systemd/system/*.slice "$fs/etc/systemd/system/"
  install -m 0644 "$f"/etc/systemd/system/kubelet.service.d/* "$fs/etc/systemd/system/kubelet.service.d/"
  # Debian's containerd is in /usr/bin, kind's in /usr/local/bin.
  sed -i 's|/usr/local/bin/containerd$|/usr/bin/containerd|' "$fs/etc/systemd/system/containerd.service"
  # What kind's Dockerfile does after installing packages.
  find "$fs/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete
  rm -f "$fs"/lib/systemd/system/multi-user.target.wants/* "$fs"/etc/systemd/system/*.wants/* \
    "$fs"/lib/systemd/system/local-fs.target.wants/* "$fs"/lib/systemd/system/sockets.target.wants/*udev* \
    "$fs"/lib/systemd/system/sockets.target.wants/*initctl* "$fs"/lib/systemd/system/basic.target.wants/*
  echo "ReadKMsg=no" >>"$fs/etc/systemd/journald.conf"
  ln -sf /usr/lib/systemd/systemd "$fs/sbin/init"
  chroot "$fs" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
  chroot "$fs" systemctl mask systemd-binfmt.service >/dev/null 2>&1
  # The base runtime spec, as kind makes it: ctr's default plus its product-files hook, no rlimits.
  chroot "$fs" ctr oci spec \
    | jq '.hooks.createContainer[.hooks.createContainer | length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \
    | jq 'del(.process.rlimits)' >"$fs/etc/containerd/cri-base.json"
  # The static CNI for one node: ptp veths and host-local addresses in kind's default pod
  # subnet, portmap for hostPort. kindnetd would write this; containerd reads it at start.
  mkdir -p "$fs/etc/cni/net.d"
  cat >"$fs/etc/cni/net.d/10-kubeproof-ptp.conflist" <<'CNI'
{
  "cniVersion": "0.4.0",
  "name": "kindnet",
  "plugins": [
    {"type": "ptp", "ipMasq": false, "mtu": 1500,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.244.0.0/24"}]],
              "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
CNI
  mkdir -p "$fs/opt/cni/bin"
  cp -a "$fs"/usr/lib/cni/* "$fs/opt/cni/bin/"
  rm -rf "$fs"/var/lib/apt/lists/* "$fs"/var/cache/apt/* "$fs"/var/log/*.log
  say "base filesystem in $(since "$started"); importing it"
  tar -C "$fs" -c . | docker import - "$image.rootfs" >/dev/null
  # docker 20.10's import refuses STOPSIGNAL: a metadata-only build sets what kind's image has.
  printf 'FROM %s\nENV container=docker\nSTOPSIGNAL SIGRTMIN+3\nENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]\n' "$image.rootfs" \
    | dbuild -q -t "$image" - >/dev/null
  docker rmi "$image.rootfs" >/dev/null
  say "base image $image in $(since "$started")"
  echo "$image"
}

# --- images the node's containerd gets -------------------------------------------------------
# A one-binary image FROM scratch (or FROM $4), under the name kubeadm or kind asks for.
image_of() { # name binary path-in-image [from] [entrypoint-json]
  local ctx; ctx=$(mktemp -d)
  cp "$2" "$ctx/bin"
  { echo "FROM ${4:-scratch}"
    echo "ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin"
    echo "COPY bin $3"
    [ -z "${5:-}" ] || echo "ENTRYPOINT $5"; } >"$ctx/Dockerfile"
  dbuild -q -t "$1" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# busybox-static with its applet links: local-path's helper runs `sh` scripts (mkdir, rm).
busybox_image() {
  local ctx; ctx=$(mktemp -d)
  mkdir -p "$ctx/bin" "$ctx/tmp"
  cp /bin/busybox "$ctx/bin/busybox"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$ctx/bin/$a"; done
  printf 'FROM scratch\nENV PATH=/bin\nCOPY bin /bin\nCOPY tmp /tmp\nCMD ["sh"]\n' >"$ctx/Dockerfile"
  dbuild -q -t "$1" "$ctx" >/dev/null
  rm -rf "$ctx"
}

# kind's default-storage.yaml, with its image names, out of its Go source.
storage_manifest() {
  local go=$KIND_SRC/pkg/build/nodeimage/const_storage.go prov helper
  prov=$(sed -n 's/^const storageProvisionerImage = "\(.*\)"/\1/p' "$go")
  helper=$(sed -n 's/^const storageHelperImage = "\(.*\)"/\1/p' "$go")
  sed -n '/^const defaultStorageManifest = `/,/^`$/p' "$go" | sed '1d;$d' \
    | sed "s|\` + storageProvisionerImage + \`|$prov|g; s|\` + storageHelperImage + \`|$helper|g"
}

main() {
  kind_source
  release_binaries
  addons
  local kubeadm base key archive
  kubeadm=$(kubeadm_binary)
  base=$(base_image)
  # The archive's key: this script, the base, and every binary that goes in.
  key=$( { cat "$0"; docker image inspect -f '{{.Id}}' "$base"; cat "$k8s_dir/manifest.json" "$etcd_dir/manifest.json"
           sha256sum "$kubeadm" "$ADDONS"/*; } | sha256sum | cut -c1-12)
  archive=$KIND_HOME/images/node-$TAG-$key.tar
  if docker image inspect -f '{{index .Config.Labels "kubeproof.key"}}' "$NODE_IMAGE" 2>/dev/null | grep -qx "$key"; then
    say "node image $NODE_IMAGE is up to date"; echo "$NODE_IMAGE"; return
  fi
  if [ -f "$archive" ]; then
    say "loading the cached node image $archive"
    docker load -q -i "$archive" >/dev/null
    echo "$NODE_IMAGE"; return
  fi
  local started; started=$(now)
  say "assembling node image $NODE_IMAGE"
  # Globals: the EXIT trap runs after main has returned.
  work=$(mktemp -d /var/tmp/kubeproof-kind-node.XXXXXX)
  cid=""
  trap 'rm -rf "${work:-}"; [ -z "${cid:-}" ] || docker rm -f -v "$cid" >/dev/null 2>&1 || true' EXIT

  # The names: what this release's kubeadm lists, kind's sandbox image, kind's storage images.
  local wanted sandbox img name b
  sandbox=$(sed -n 's/^ *sandbox_image = "\(.*\)"/\1/p' "$KIND_SRC/images/base/files/etc/containerd/config.toml")
  storage_manifest >"$work/default-storage.yaml"
  wanted=$( { "$kubeadm" config images list --kubernetes-version "$TAG" 2>/dev/null; echo "$sandbox"
             grep -o 'docker.io/kindest/local-path-[a-z]*:[^ ]*' "$work/default-storage.yaml"; } | sort -u | tr '\n' ' ')
  for img in $wanted; do
    name=${img##*/}; name=${name%%:*}
    case $name in
      kube-apiserver|kube-controller-manager|kube-scheduler) image_of "$img" "$k8s_dir/bin/$name" "/usr/local/bin/$name" ;;
      kube-proxy) image_of "$img" "$k8s_dir/bin/kube-proxy" /usr/local/bin/kube-proxy "$base" '[]' ;;
      etcd) image_of "$img" "$etcd_dir/bin/etcd" /usr/local/bin/etcd ;;
      coredns) image_of "$img" "$ADDONS/coredns" /coredns "" '["/coredns"]' ;;
      pause) image_of "$img" "$ADDONS/pause" /pause "" '["/pause"]' ;;
      local-path-provisioner) image_of "$img" "$ADDONS/local-path-provisioner" /usr/local/bin/local-path-provisioner ;;
      local-path-helper) busybox_image "$img" ;;
      *) die "no recipe for image $img" ;;
    esac
  done
  say "images: $wanted"

  # The node, assembled in a container of the base like kind's builder does.
  cid=$(docker run -d --network none --security-opt seccomp=unconfined --entrypoint sleep "$base" infinity)
  for b in "$kubeadm" "$k8s_dir/bin/kubelet" "$k8s_dir/bin/kubectl"; do docker cp "$b" "$cid:/usr/bin/"; done
  # crictl from its Go module (kind's base has it; `kind export logs` uses it).
  docker cp "$ADDONS/crictl" "$cid:/usr/local/bin/crictl"
  echo "$TAG" >"$work/version"
  # kind's "Installing CNI" step applies this file: a stub, the CNI is the static conflist.
  printf 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kubeproof-static-cni\n  namespace: kube-system\ndata:\n  note: "CNI: /etc/cni/net.d/10-kubeproof-ptp.conflist in the node image (kindnetd is not built here)"\n' >"$work/default-cni.yaml"
  docker exec "$cid" mkdir -p /kind/manifests
  docker cp "$work/version" "$cid:/kind/version"
  docker cp "$work/default-cni.yaml" "$cid:/kind/manifests/default-cni.yaml"
  docker cp "$work/default-storage.yaml" "$cid:/kind/manifests/default-storage.yaml"
  # Before 1.24 the kubelet's cgroup driver defaults to cgroupfs: containerd must match (as kind's builder).
  version_ge "$V" 1.24 || docker exec "$cid" sed -i 's/SystemdCgroup = true/SystemdCgroup = false/' /etc/containerd/config.toml

  docker exec -d "$cid" containerd
  for _ in $(seq 30); do docker exec "$cid" ctr version >/dev/null 2>&1 && break; sleep 1; done
  # containerd 1.6 does not qualify short names in an archive: write docker.io/ into RepoTags.
  mkdir "$work/images"
  docker save $wanted | tar -C "$work/images" -x
  jq '[.[] | .RepoTags |= map(if (split("/")[0] | test("[.:]")) then . else "docker.io/" + . end)]' \
    "$work/images/manifest.json" >"$work/manifest.json"
  mv "$work/manifest.json" "$work/images/manifest.json"
  tar -C "$work/images" -c . | docker exec -i "$cid" ctr -n k8s.io images import --no-unpack --digests - >/dev/null
  for img in $wanted; do
    # Pinned, as kind's importer does, so the kubelet's image GC never removes them.
    docker exec "$cid" ctr -n k8s.io images label "$img" io.cri-containerd.pinned=pinned >/dev/null
  done
  docker exec "$cid" pkill containerd || true
  for _ in $(seq 30); do docker exec "$cid" pgrep containerd >/dev/null || break; sleep 1; done
  docker commit -c 'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]' -c 'CMD []' \
    -c "LABEL kubeproof.key=$key" "$cid" "$NODE_IMAGE" >/dev/null
  docker rm -f -v "$cid" >/dev/null; cid=""
  docker rmi $wanted >/dev/null
  say "node image assembled in $(since "$started"); saving it to $archive"
  mkdir -p "$KIND_HOME/images"
  rm -f "$KIND_HOME/images/node-$TAG-"*.tar  # older archives of the release: other inputs
  docker save -o "$archive.tmp" "$NODE_IMAGE" && mv "$archive.tmp" "$archive"
  say "node image $NODE_IMAGE ($(du -h "$archive" | cut -f1)) in $(since "$started")"
  echo "$NODE_IMAGE"
}
main
