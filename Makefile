# kubeproof — the two commands: `make demo` (the main job) and `make test` (the tests).
# Releases the test suite runs on: both sides of the 1.24 token-Secret change.
VERSIONS ?= 1.23.17,latest
# Releases the suite's `upgrade` steps go to (scenarios/upgrade-*.yaml: 1.23.17 → 1.24.0, one hop
# in CI), installed up front with the rest, node binaries included (upgrade-pod-token-survives
# upgrades a node).
UPGRADES ?= 1.24.0
# The behaviour matrix: every minor from 1.22 to the newest, at its newest patch whose modules
# the Go module proxy here serves whole, the seeds' own releases (k3s 1.22.7 and kind 1.24.0 in
# seeds/000, minikube 1.28.3 in seeds/001), and the newest pre-release (`next`). The proxy
# refuses (403) some staging module of 1.22.17, 1.31.5–1.31.14 and 1.32.10–1.32.13 (and of later
# patches of 1.25–1.27 and 1.29; docs/control-plane.md), and not always the same ones: those
# minors take the newest patch it serves whole. About 20 releases: build them first
# (`kubeproof cluster install --version V --node`, 5–15 minutes each on 2 cores).
MATRIX_VERSIONS ?= 1.22.7,1.22.16,1.23.17,1.24.0,1.24.17,1.25.15,1.26.13,1.27.4,1.28.3,1.28.15,1.29.15,1.30.14,1.31.4,1.32.9,1.33.13,1.34.12,1.35.8,1.36.5,1.37.2,next
# Long scenarios (`long: true`: the kubelet's token refresh, ~10 minutes a release) join the
# matrix with MATRIX_LONG=1.
MATRIX_LONG ?= 0
KUBEPROOF ?= cargo run --
CLUSTER ?= kubeproof

.PHONY: build demo test unit install lint stress kind-compare matrix-doc bench-cluster bench-upgrade bench-clusters bench-node kind-up kind-down kind-test kind-matrix clean-clusters

build:
	cargo build

# Installs the default control plane if needed, runs every scenario on it, prints the matrix.
demo:
	$(KUBEPROOF) matrix --versions latest

# Builds (once, cached) the control planes, then runs unit tests, bad-input tests, the control
# plane tests and every scenario on every release in VERSIONS.
test: install
	KUBEPROOF_VERSIONS=$(VERSIONS) cargo test

# Unit tests only: no cluster needed.
unit:
	cargo test --lib --test bad_input

install:
	@for v in $$(echo $(VERSIONS) | tr ',' ' '); do $(KUBEPROOF) cluster install --node --version $$v || exit 1; done
	@for v in $$(echo $(UPGRADES) | tr ',' ' '); do $(KUBEPROOF) cluster install --node --version $$v || exit 1; done

# Formatting (rustfmt.toml), clippy with warnings as errors, and every scenario file; CI runs it.
lint:
	cargo fmt --check
	cargo clippy --all-targets --quiet -- -D warnings
	$(KUBEPROOF) lint scenarios examples

# docs/behaviour-matrix.md is the output of this target, committed as is: one release at a time
# (each with its flag-profile clusters; all at once, ~50 clusters, do not start on 2 cores), then
# the page assembled from those reports, with how long each release took and
# docs/behaviour-notes.md at its end.
matrix-doc:
	@mkdir -p target/matrix; : > target/matrix/took.md
	@for v in $$(echo $(MATRIX_VERSIONS) | tr ',' ' '); do rm -f target/matrix/$$v.json; s=$$(date +%s); \
	  KUBEPROOF_LONG=$(MATRIX_LONG) $(KUBEPROOF) run --local $$v scenarios --json target/matrix/$$v.json > target/matrix/$$v.log 2>&1; \
	  echo "- $$v: $$(( $$(date +%s) - s )) s — $$(tail -1 target/matrix/$$v.log | sed 's/^kubeproof: //')" | tee -a target/matrix/took.md; done
	@{ printf '## How this page was made\n\n`make matrix-doc`, finished %s on %s cores, each release after the other (its binaries built before):\n\n' \
	  "$$(date -u '+%F %H:%M UTC')" "$$(nproc)"; cat target/matrix/took.md; echo; cat docs/behaviour-notes.md; } > target/matrix/notes.md
	$(KUBEPROOF) matrix --from $$(echo $(MATRIX_VERSIONS) | tr ',' '\n' | sed 's|.*|target/matrix/&.json|' | paste -sd,) \
	  --markdown docs/behaviour-matrix.md --notes target/matrix/notes.md --json target/behaviour-matrix.json

# Flake hunt (a benchmark, not CI): the catalogue on two releases at once, STRESS_RUNS times;
# each run's closing line and the failed scenarios go to target/stress.log (docs/reliability.md).
STRESS_RUNS ?= 10
stress:
	@mkdir -p target; : > target/stress.log
	@for i in $$(seq 1 $(STRESS_RUNS)); do \
	  $(KUBEPROOF) matrix --versions $(VERSIONS) --releases-at-once 2 > target/stress-$$i.log 2>&1; \
	  echo "run $$i (exit $$?): $$(tail -1 target/stress-$$i.log)" | tee -a target/stress.log; \
	  grep '^FAIL' target/stress-$$i.log >> target/stress.log || true; done

# Cluster start/stop medians; the figures go to docs/performance.md.
bench-cluster:
	cargo bench --bench cluster

# `cluster up --nodes 1` to a Running pod, median of 3 (root; see docs/performance.md).
# One upgrade hop on a running cluster (1.23.17 → 1.24.0; KUBEPROOF_UPGRADE=FROM,TO), medians;
# KUBEPROOF_BENCH_NODES=1 upgrades a node's kubelet too.
bench-upgrade:
	cargo bench --bench upgrade

# The same steps on one cluster and on two (one trusting the other), whole runs, paired.
bench-clusters:
	cargo bench --bench clusters

bench-node:
	cargo build --release
	benches/node.sh

# --- kind (docs/kind.md) ---
# KIND_IMAGES=built (the default): no registry needed. kind/up.sh installs Debian's docker.io if
# missing, starts a private dockerd, installs kind pinned from its Go module, and makes the node
# image of the release from the binaries kubeproof builds (cached under ~/.cache/kubeproof/kind).
# Needs root, Go and the Debian, Go-module and crates registries.
# KIND_IMAGES=official: the pinned kindest/node images below, with the machine's own docker and
# a registry to pull them from (checked by hand). Each needs the kind release in brackets or one
# close to it.
KIND_IMAGES ?= built
KIND_IMAGE_1.37.0 ?= kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5
# [kind v0.33.0]
KIND_IMAGE_1.30.13 ?= kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648
# [kind v0.29.0]
KIND_IMAGE_1.24.17 ?= kindest/node:v1.24.17@sha256:bad10f9b98d54586cba05a7eaa1b61c6b90bfc4ee174fdc43a7b75ca75c95e51
# [kind v0.22.0]
KIND_IMAGE_1.23.17 ?= kindest/node:v1.23.17@sha256:14d0a9a892b943866d7e6be119a06871291c517d279aedb816a4b4bc0ec0a5b3
# [kind v0.22.0]
ifeq ($(KIND_IMAGES),official)
KIND_VERSION ?= 1.37.0
KIND_VERSIONS ?= 1.23.17,1.37.0
else
KIND_VERSION ?= 1.37.2
KIND_VERSIONS ?= 1.24.0,1.37.2
endif
KIND_ENV = KIND_IMAGES=$(KIND_IMAGES) KIND_IMAGE='$(KIND_IMAGE_$(KIND_VERSION))' KUBEPROOF='$(KUBEPROOF)'

kind-up:
	$(KIND_ENV) kind/up.sh $(KIND_VERSION) $(CLUSTER)

# Deletes the cluster; the last one down also stops the private dockerd, leaving nothing.
kind-down:
	KIND_IMAGES=$(KIND_IMAGES) kind/down.sh $(CLUSTER)

# KUBEPROOF_CONTEXT=kind-$(CLUSTER) cargo test --test scenarios, KUBEPROOF_KUBECTL the release's kubectl.
kind-test:
	KIND_IMAGES=$(KIND_IMAGES) kind/test.sh $(CLUSTER)

# One kind cluster per release, the matrix over their contexts, then every cluster down
# (also when a step fails).
kind-matrix:
	@names=$$(echo $(KIND_VERSIONS) | tr ',' '\n' | sed 's/^/kp-/; s/\./-/g'); rc=0; \
	for v in $$(echo $(KIND_VERSIONS) | tr ',' ' '); do \
	  $(MAKE) kind-up CLUSTER=kp-$$(echo $$v | tr . -) KIND_VERSION=$$v || { rc=1; break; }; done; \
	[ $$rc = 1 ] || $(KUBEPROOF) matrix --contexts $$(echo "$$names" | sed 's/^/kind-/' | paste -sd,) || rc=1; \
	for n in $$names; do $(MAKE) kind-down CLUSTER=$$n; done; exit $$rc

# The same scenarios on kind and on kubeproof's own control plane of one release, side by side:
# `matrix --from` prints both columns and every scenario whose outcome differs (docs/kind.md).
kind-compare:
	@mkdir -p target; rc=0; \
	$(MAKE) kind-up CLUSTER=kp-compare KIND_VERSION=$(KIND_VERSION) || exit 1; \
	$(KUBEPROOF) run scenarios --context kind-kp-compare --json target/compare-kind.json > target/compare-kind.log 2>&1; \
	$(MAKE) kind-down CLUSTER=kp-compare; \
	$(KUBEPROOF) run scenarios --local $(KIND_VERSION) --json target/compare-local.json > target/compare-local.log 2>&1; \
	$(KUBEPROOF) matrix --from target/compare-local.json,target/compare-kind.json || rc=1; exit $$rc

clean-clusters:
	@$(KUBEPROOF) cluster list
	@for n in $$($(KUBEPROOF) cluster list | awk '$$3 == "up" {print $$1}'); do $(KUBEPROOF) cluster down --name $$n; done
