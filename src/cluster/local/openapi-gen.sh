#!/usr/bin/env bash
# Up to Kubernetes 1.23 the generated OpenAPI definitions
# (pkg/generated/openapi/zz_generated.openapi.go) were not committed, so the published
# k8s.io/kubernetes module cannot build kube-apiserver as is. This regenerates the file the way
# upstream's build/root/Makefile.generated_files did — openapi-gen, at the kube-openapi version
# the release pins, in GOPATH mode over a vendor tree — and leaves a copy of the module with the
# file added in WRAPPER/kubernetes (`go build -overlay` refuses files beneath GOMODCACHE).
#
# usage: openapi-gen.sh VERSION WRAPPER_DIR   (WRAPPER_DIR holds kubeproof's generated go.mod)
set -euo pipefail
v=$1; W=$2
minor=$(echo "$v" | cut -d. -f2); patch=$(echo "$v" | cut -d. -f3)
sv=v0.$minor.$patch
export GOFLAGS=-mod=mod
K=$(go env GOMODCACHE)/k8s.io/kubernetes@$v
G=$W/openapi; rm -rf "$G"; mkdir -p "$G/tools" "$G/out"

echo "openapi-gen: building the generator pinned by $v"
cp "$W/go.mod" "$G/tools/"
printf '//go:build tools\npackage tools\nimport _ "k8s.io/kube-openapi/cmd/openapi-gen"\n' > "$G/tools/tools.go"
(cd "$G/tools" && go mod tidy >/dev/null 2>&1 && go build -o openapi-gen k8s.io/kube-openapi/cmd/openapi-gen)

echo "openapi-gen: laying out a GOPATH tree with vendored dependencies"
GP=$G/gopath; S=$GP/src/k8s.io/kubernetes; mkdir -p "$GP/src/k8s.io"
cp -r "$K" "$S"; chmod -R u+w "$S"; cd "$S"
# Each staging module at the version kubeproof's go.mod gives it: the release's own v0.X.Y, or
# the nearest served patch where the module proxy refuses that one (install.rs, Quirks).
staging=$(sed -n -E "s#^\s*(k8s.io/[a-z-]+) => \./staging/src/k8s.io/[a-z-]+.*#\1#p" go.mod)
version_of() { local m; m=$(sed -n -E "s#^replace $1 => $1 (v[^ ]+)\$#\1#p" "$W/go.mod"); echo "${m:-$sv}"; }
for m in $staging; do
  sed -i -E "s#^(\s*)$m => \./staging/src/$m( .*)?\$#\1$m => $m $(version_of "$m")#" go.mod
done
go mod tidy -e >/dev/null 2>&1; go mod vendor -e >/dev/null 2>&1
# Staging modules are vendored whole, as upstream's vendor/ symlinks to staging/ make them.
for m in $staging; do
  d=$(go mod download -json "$m@$(version_of "$m")" 2>/dev/null | sed -n 's/.*"Dir": "\(.*\)".*/\1/p') || true
  [ -n "$d" ] || continue
  rm -rf "vendor/$m"; cp -r "$d" "vendor/$m"
done
chmod -R u+w vendor

echo "openapi-gen: generating pkg/generated/openapi/zz_generated.openapi.go"
# The same input selection as Makefile.generated_files (the KUBE target).
set +o pipefail  # grep -l exits 1 for batches without a match
find . -type f -name '*.go' -not -path './_*' -not -path './.git*' | xargs grep --color=never -l '^// *+k8s:' | sed 's#^\./##' \
  | grep -vE '^vendor/k8s.io/(code-generator|sample-apiserver)/' | xargs grep --color=never -l '+k8s:openapi-gen=' \
  | xargs -n1 dirname | LC_ALL=C sort -u > "$G/dirs.txt"
set -o pipefail
IN=$(sed 's#^#k8s.io/kubernetes/#' "$G/dirs.txt" | paste -sd,)
GO111MODULE=off GOPATH=$GP GOFLAGS= "$G/tools/openapi-gen" --logtostderr -i "$IN" -p k8s.io/kubernetes/pkg/generated/openapi \
  -O zz_generated.openapi -h vendor/k8s.io/code-generator/hack/boilerplate.go.txt -r "$G/violations.report" -o "$GP/src" 2>"$G/openapi-gen.log"
if diff -q "$G/violations.report" api/api-rules/violation_exceptions.list >/dev/null; then
  echo "openapi-gen: API rule violations identical to upstream's list"
fi
cp pkg/generated/openapi/zz_generated.openapi.go "$G/out/"

rm -rf "$W/kubernetes"; cp -r "$K" "$W/kubernetes"; chmod -R u+w "$W/kubernetes"
cp "$G/out/zz_generated.openapi.go" "$W/kubernetes/pkg/generated/openapi/"
rm -rf "$GP"   # about 400 MB
