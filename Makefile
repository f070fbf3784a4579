# lattice-gateway — run `make help` for the targets.
SHELL := /bin/bash
GO ?= go
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/lattice-gateway/lattice-gateway/internal/version.Version=$(VERSION)
IMAGE ?= lattice-gateway:$(VERSION)
# Integration tests start real kube-apiservers, etcds and servers; give them room on small machines.
TEST_TIMEOUT ?= 40m

.PHONY: help
help: ## Show the targets and what they do.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/lattice-gateway.
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/lattice-gateway ./cmd/lattice-gateway

.PHONY: demo
demo: ## Play the hotel walkthrough on this machine: Local Lattice, demo apps, the 50/50 split.
	$(GO) run ./cmd/lattice-gateway demo $(DEMO_ARGS)

.PHONY: test-assets
test-assets: ## Build kube-apiserver, etcd, kube-controller-manager, staticcheck, controller-gen into bin/ (once).
	bash hack/install-test-assets.sh

.PHONY: lint
lint: test-assets ## gofmt check, go vet and staticcheck.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	cd test/packaging && $(GO) vet ./... && $(BIN)/staticcheck ./...

.PHONY: test-unit
test-unit: ## Unit tests (with the race detector).
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./internal/... ./cmd/...

.PHONY: test-integration
test-integration: test-assets ## Integration tests on a real kube-apiserver, Local Lattice and real traffic.
	$(GO) test -timeout $(TEST_TIMEOUT) ./test/...
	cd test/packaging && $(GO) test -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-conformance
test-conformance: test-assets ## The upstream GATEWAY-HTTP core conformance profile (part of make test; ~3 min).
	CONFORMANCE=1 $(GO) test -count=1 -timeout 30m -run TestConformance ./test/conformance/ -args \
		-conformance-profiles=GATEWAY-HTTP -version=$(VERSION) -report-output=$(BIN)/conformance-report.yaml

.PHONY: conformance
conformance: test-assets ## Upstream Gateway API conformance (HTTP, TLS, gRPC profiles); report in conformance/reports/.
	CONFORMANCE=1 $(GO) test -count=1 -timeout 30m -run TestConformance ./test/conformance/ -args \
		-conformance-profiles=GATEWAY-HTTP,GATEWAY-TLS,GATEWAY-GRPC -version=$(VERSION) \
		-report-output=conformance/reports/v1.6.3/lattice-gateway/experimental-$(VERSION)-default-report.yaml

.PHONY: test
test: lint test-unit test-integration test-conformance ## Everything CI runs: lint, unit, integration and conformance tests.

.PHONY: generate
generate: test-assets ## Regenerate CRDs, deepcopy, RBAC and config/ manifests from api/ and the chart.
	bash hack/generate.sh

.PHONY: image
image: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t $(IMAGE) .
