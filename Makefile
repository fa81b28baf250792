# kube-checkpoint: Kubernetes v1.37.2 with the pods/checkpoint subresource.
KUBE_VERSION := v1.37.2
OUT := _output
BIN := $(OUT)/bin

GIT_COMMIT := $(shell git rev-parse --verify -q HEAD 2>/dev/null || echo unknown)
GIT_SHORT := $(shell git rev-parse --verify -q --short HEAD 2>/dev/null || echo unknown)
GIT_TREE_STATE := $(shell test -z "$$(git status --porcelain 2>/dev/null)" && echo clean || echo dirty)
BUILD_DATE := $(shell TZ=UTC git show -s --format=%cd --date=format-local:'%Y-%m-%dT%H:%M:%SZ' HEAD 2>/dev/null || echo 1970-01-01T00:00:00Z)
VERSION_PKG := k8s.io/component-base/version
# The patched binaries say they are v1.37.2 with this project's commit as build
# metadata, so version-skew logic treats them as v1.37.2.
LDFLAGS := -X $(VERSION_PKG).gitMajor=1 -X $(VERSION_PKG).gitMinor=37 \
	-X $(VERSION_PKG).gitVersion=$(KUBE_VERSION)+checkpoint.$(GIT_SHORT) \
	-X $(VERSION_PKG).gitCommit=$(GIT_COMMIT) -X $(VERSION_PKG).gitTreeState=$(GIT_TREE_STATE) \
	-X $(VERSION_PKG).buildDate=$(BUILD_DATE)
# Upstream binaries built from the same modules carry upstream's version.
UPSTREAM_LDFLAGS := -X $(VERSION_PKG).gitMajor=1 -X $(VERSION_PKG).gitMinor=37 \
	-X $(VERSION_PKG).gitVersion=$(KUBE_VERSION) -X $(VERSION_PKG).gitTreeState=clean \
	-X $(VERSION_PKG).buildDate=$(BUILD_DATE)

export GOFLAGS := -buildvcs=false

STAGING := staging/src/github.com/kube-checkpoint
STAGING_MODULES := $(STAGING)/client-go $(STAGING)/kubectl

.PHONY: all build kube-apiserver kubectl release test-release cluster-binaries images local-up local-down kind-binaries kind-image kind-up kind-down test-e2e-kind test-e2e-skew test-e2e-skew-full test-binaries verify verify-upstream update-upstream test test-unit fuzz test-integration test-e2e bench bench-rss bench-fleet clean

all: build

## build: the patched kube-apiserver, kubectl (with alpha checkpoint) and the
## kubectl-checkpoint plugin into _output/bin/.
build: kube-apiserver kubectl

kube-apiserver:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/kube-apiserver ./cmd/kube-apiserver

kubectl:
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl ./cmd/kubectl
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/kubectl-checkpoint github.com/kube-checkpoint/kubectl/cmd/kubectl-checkpoint

## cluster-binaries: upstream etcd, kubelet, kube-controller-manager and
## kube-scheduler v1.37.2, built from this module's dependencies.
cluster-binaries:
	go build -o $(BIN)/etcd go.etcd.io/etcd/server/v3
	for c in kubelet kube-controller-manager kube-scheduler; do \
		go build -ldflags "$(UPSTREAM_LDFLAGS)" -o $(BIN)/$$c k8s.io/kubernetes/cmd/$$c || exit 1; done

## images: the pause and test images as OCI tarballs, for nodes without a registry.
images:
	mkdir -p $(OUT)/images
	CGO_ENABLED=0 go build -o $(OUT)/images/pause ./test/images/pause
	CGO_ENABLED=0 go build -o $(OUT)/images/counter ./test/images/counter
	go run ./test/images/build -binary $(OUT)/images/pause -entrypoint /pause -name registry.k8s.io/pause:3.10.1 -out $(OUT)/images/pause.tar
	go run ./test/images/build -binary $(OUT)/images/counter -entrypoint /counter -name kube-checkpoint.local/counter:v1 -out $(OUT)/images/counter.tar

## kind-binaries: what the kind node image is built from besides make build's
## and cluster-binaries' (kube-apiserver, controller-manager, scheduler,
## kubelet, kubectl, etcd): kubeadm, kube-proxy and podnet (the pod network),
## into _output/kind/bin.
KIND_BIN := $(OUT)/kind/bin
kind-binaries: build cluster-binaries
	go build -ldflags "$(UPSTREAM_LDFLAGS)" -o $(KIND_BIN)/kubeadm k8s.io/kubernetes/cmd/kubeadm
	go build -ldflags "$(UPSTREAM_LDFLAGS)" -o $(KIND_BIN)/kube-proxy k8s.io/kubernetes/cmd/kube-proxy
	CGO_ENABLED=0 go build -o $(KIND_BIN)/podnet ./test/images/podnet

## kind-image: the kind node image, built here from source with kind v0.33.0's
## own node-image build; nothing is pulled (see hack/kind-image.sh).
kind-image: kind-binaries images
	hack/kind-image.sh

## kind-up: a kind cluster "kube-checkpoint" (a control plane and a worker) on
## the node image of kind-image, and a demo checkpoint.
kind-up: kind-image
	hack/kind-up.sh

## kind-down: delete the kind cluster and everything kind-up made for it.
kind-down:
	hack/kind-down.sh

## local-up: a real local cluster (NUM_NODES=1 by default) and a demo checkpoint.
local-up:
	hack/local-up.sh

## local-down: remove every process, network namespace, mount and cgroup of local-up.
local-down:
	hack/local-down.sh

## release: what an operator installs, into _output/release/ (hack/release.sh):
## kube-apiserver for linux/amd64 and arm64 as one OCI image index,
## kubectl-checkpoint archives for linux, darwin and windows on amd64 and
## arm64, their krew manifest, a team's RBAC and SHA256SUMS; version from
## VERSION, from a clean tree, reproducibly.
release:
	hack/release.sh

## test-release: make release, then test/release checks it as an operator
## gets it: SHA256SUMS, each binary's platform, krew's validation and an
## offline krew install of every archive (krew built from its module), the
## image's platforms, and a binary built again to the same bytes.
KREW_VERSION := v0.4.3
test-release: release kubectl
	GOBIN=$(CURDIR)/$(OUT)/krew go install sigs.k8s.io/krew/cmd/krew@$(KREW_VERSION) sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)
	RELEASE_DIR=$(CURDIR)/$(OUT)/release RELEASE_BUILD=$(CURDIR)/$(OUT)/release-build KREW_BIN=$(CURDIR)/$(OUT)/krew KUBECTL=$(CURDIR)/$(BIN)/kubectl \
		go test -count=1 -v ./test/release/

## test-binaries: what the integration tests run: etcd, and upstream's
## kube-apiserver from the same modules as the reference for discovery.
test-binaries: build
	go build -o $(BIN)/etcd go.etcd.io/etcd/server/v3
	go build -ldflags "$(UPSTREAM_LDFLAGS)" -o $(BIN)/kube-apiserver-upstream k8s.io/kubernetes/cmd/kube-apiserver

## verify: generated code, api/ and go.mod are current, code is formatted and vetted.
verify:
	hack/verify-codegen.sh
	hack/verify-api-specs.sh
	hack/verify-gofmt.sh
	go vet ./pkg/... ./cmd/... ./plugin/... ./test/... ./hack/...
	go mod tidy -diff
	hack/verify-staging.sh
	for m in $(STAGING_MODULES); do (cd $$m && go vet ./...) || exit 1; done

## verify-upstream: the upstream patch series (hack/upstream/series) is
## current, applies to kubernetes v1.37.2 assembled from the Go module cache,
## builds kube-apiserver and kubectl there, passes the unit tests of every
## package it touches, and that kube-apiserver serves the series' api/.
verify-upstream:
	hack/upstream/verify.sh

## update-upstream: write hack/upstream/series from this repository.
update-upstream:
	hack/upstream/update.sh

## test: everything CI runs, on a bare machine.
test:
	@hack/phase.sh build $(MAKE) --no-print-directory test-binaries
	@hack/phase.sh verify $(MAKE) --no-print-directory verify
	@hack/phase.sh verify-upstream $(MAKE) --no-print-directory verify-upstream
	@hack/phase.sh unit $(MAKE) --no-print-directory test-unit
	@hack/phase.sh release $(MAKE) --no-print-directory test-release
	@hack/phase.sh integration $(MAKE) --no-print-directory test-integration
	@hack/phase.sh e2e $(MAKE) --no-print-directory test-e2e
	@hack/phase.sh e2e-skew $(MAKE) --no-print-directory test-e2e-skew
	@if docker info >/dev/null 2>&1; then \
		hack/phase.sh e2e-kind $(MAKE) --no-print-directory test-e2e-kind; \
	else \
		echo "=== phase e2e-kind: SKIPPED: no Docker Engine answers (docker info failed), so the e2e suite did not run on kind"; \
	fi

test-unit:
	go test ./pkg/... ./plugin/... ./cmd/... ./test/bench/... ./test/images/... ./test/utils/... ./hack/...
	for m in $(STAGING_MODULES); do (cd $$m && go test ./...) || exit 1; done

## fuzz: each Go fuzz target for FUZZTIME (default 1m): the query's
## decoding and validation, the mapping of kubelet answers to API errors, the
## archive name, the node-condition flag and the kubelet's summary. Not a
## phase of make test (its instrumented build alone takes 5 minutes there);
## every go test, so make test-unit, runs their seed corpora. A
## crash is written under the package's testdata/fuzz, where it stays as a
## row of the seed corpus that every go test runs.
FUZZTIME ?= 1m
FUZZ_TARGETS := ./pkg/apis/core/v1:FuzzDecodeQueryParameters \
	./pkg/registry/core/pod/rest:FuzzKubeletAnswer \
	./pkg/registry/core/pod/rest:FuzzArchiveName \
	./pkg/registry/core/pod/rest:FuzzParseNodeConditions \
	./pkg/registry/core/pod/rest:FuzzSummary
fuzz:
	@for t in $(FUZZ_TARGETS); do \
		echo "+++ fuzz $${t#*:} ($${t%%:*}) for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || exit 1; \
	done

test-integration: test-binaries
	KUBE_CHECKPOINT_BIN=$(CURDIR)/$(BIN) go test -count=1 -timeout 30m ./test/integration/... $(TEST_ARGS)

## test-e2e: the e2e suite against $$KUBECONFIG, or against a fresh
## local-up (NUM_NODES=2) that it tears down and checks is gone.
test-e2e:
	hack/e2e.sh

## test-e2e-kind: the same e2e suite on a fresh kind-up cluster (the node
## image of kind-image), deleted after.
test-e2e-kind: kind-image
	hack/e2e.sh kind

## test-e2e-skew: the e2e suite's skew specs on a fresh local-up cluster with
## one node per row of the version-skew matrix's representative subset (one
## row of each kind; make test runs it); test-e2e-skew-full: every row.
test-e2e-skew:
	hack/e2e.sh skew

test-e2e-skew-full:
	hack/e2e.sh skew full

## bench: the benchmark on a local-up cluster (hack/bench.sh): pods/checkpoint
## against nodes/proxy, the kubelet and crictl, concurrency and memory sweeps,
## idle RSS; writes BENCHMARKS.md and docs/bench-time-vs-rss.png.
bench:
	hack/bench.sh

## bench-rss: the apiserver's idle RSS with the gate on and off, same flags,
## the median of RSS_SAMPLES pairs.
RSS_SAMPLES ?= 3
bench-rss: test-binaries
	KUBE_CHECKPOINT_BIN=$(CURDIR)/$(BIN) go test -count=1 -run '^$$' -bench BenchmarkIdleRSS -benchtime=$(RSS_SAMPLES)x -timeout 10m ./test/integration/checkpoint/

## bench-fleet: a simulated fleet in integration: FLEET_NODES (10,100) TLS
## kubelet stand-ins, 1000 checkpoints through two apiservers at once; writes
## docs/bench-fleet.md.
bench-fleet: test-binaries
	KUBE_CHECKPOINT_BIN=$(CURDIR)/$(BIN) FLEET_OUT=$(CURDIR)/docs/bench-fleet.md go test -count=1 -run '^$$' -bench BenchmarkFleet -benchtime=1x -timeout 20m ./test/integration/checkpoint/

clean:
	rm -rf $(OUT)
