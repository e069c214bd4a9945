# Every tool is pinned: buf, benchstat and golangci-lint in tools/go.mod,
# protoc-gen-go, protoc-gen-go-grpc and mockgen in go.mod, all run through
# `go tool`, so a machine with only Go installed can run every target.

SHELL := /usr/bin/env bash
GO    ?= go
BUF   := $(GO) tool -modfile=tools/go.mod buf
BENCHSTAT := $(GO) tool -modfile=tools/go.mod benchstat
GOLANGCI_LINT := $(GO) tool -modfile=tools/go.mod golangci-lint
# Generated files that `make generate` owns; `make test` fails if they drift.
GENERATED := '*.pb.go' '*mock/*.go'

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: demo
demo: build ## Build everything, start pandasim + provisioning-host + the Panda plugin and synchronize sample accounts.
	./scripts/demo.sh

.PHONY: test
test: lint golint fmt-check generate-check vet cross gotest bench-smoke ## Everything CI runs: buf lint and format, golangci-lint, generated code up to date, go vet, the libraries built for macOS and Windows, go test -race, every call-path benchmark once.

.PHONY: build
build: ## Build every binary into bin/.
	$(GO) build -o bin/ ./cmd/...

.PHONY: generate
generate: ## Regenerate protobuf/gRPC code (buf) and mocks (mockgen via go generate).
	$(BUF) generate
	$(GO) generate ./...

.PHONY: lint
lint: ## buf lint (STANDARD) on the protocol.
	$(BUF) lint

.PHONY: golint
golint: ## golangci-lint on the Go code (linters in .golangci.yml; generated code excluded).
	$(GOLANGCI_LINT) run ./...

.PHONY: fmt-check
fmt-check: ## Check .proto formatting (buf format) and Go formatting (gofmt).
	$(BUF) format --diff --exit-code
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

.PHONY: fmt
fmt: ## Format .proto and Go files in place.
	$(BUF) format -w
	gofmt -w $$(git ls-files '*.go')

.PHONY: generate-check
generate-check: generate ## Fail if regenerating changes any generated file.
	@if ! git diff --quiet -- $(GENERATED) || [ -n "$$(git ls-files --others --exclude-standard -- $(GENERATED))" ]; then \
		echo "generated code is out of date: run 'make generate' and commit the result"; \
		git status --short -- $(GENERATED); exit 1; fi

.PHONY: breaking
breaking: ## buf breaking (WIRE_JSON) against main.
	$(BUF) breaking --against '.git#branch=main'

.PHONY: vet
vet: ## go vet.
	$(GO) vet ./...

.PHONY: cross
cross: ## Build the host and plugin libraries for macOS and Windows (the daemon and the commands are Linux and Unix only).
	GOOS=darwin GOARCH=arm64 $(GO) build ./host/... ./plugin/...
	GOOS=windows GOARCH=amd64 $(GO) build ./host/... ./plugin/...

.PHONY: gotest
gotest: ## go test -race ./... (fuzz seed corpora included).
	@/usr/bin/python3 -c 'import grpc, google.protobuf, cryptography, grpc_tools' 2>/dev/null || \
		echo "note: skipping the Python example plugin's tests (plugin/examples/python): /usr/bin/python3 lacks its modules; install python3-grpcio python3-protobuf python3-cryptography python3-grpc-tools"
	$(GO) test -race -count=1 -timeout 20m ./...

.PHONY: bench-smoke
bench-smoke: ## Run each benchmark of internal/bench once (call paths, cold start): a broken benchmark fails make test, not only make bench.
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x ./internal/bench

BENCH ?= .
BENCHCOUNT ?= 6
LOADREPEAT ?= 3
ROWCOUNT ?= 3
.PHONY: bench
bench: bench-go bench-load bench-summary ## Go benchmarks (bench-go), the load scenarios (bench-load), then the four performance rows side by side (bench-summary).

.PHONY: bench-go
bench-go: ## Go benchmarks (BENCH=regexp, BENCHCOUNT=n) by benchstat, call paths side by side; raw output in bench.txt.
	$(GO) test -run '^$$' -bench '$(BENCH)' -benchmem -count $(BENCHCOUNT) ./... | tee bench.txt
	$(BENCHSTAT) bench.txt
	@echo; echo "Call overhead by path (ratios against go-plugin; targets: host <= 1.15x, daemon <= 2.1x):"
	$(BENCHSTAT) -filter '.name:Call' -col /via bench.txt
	$(BENCHSTAT) -filter '.name:ColdStart' -col /via bench.txt

.PHONY: bench-load
bench-load: ## Load scenarios on real binaries (LOADREPEAT=n runs each): bulk 10k, plugin boundary, memory 10k vs 100k, remote-bound, stores (SQLite vs PostgreSQL with 1 and 2 daemons, with PROVISIONING_TEST_POSTGRES); output in bench-load.txt.
	$(GO) build -o bin/ ./cmd/... ./internal/loadtest/cmd/...
	{ ./bin/loadtest -bin bin -scenario bulk -resellers 1000 -per 9 -repeat $(LOADREPEAT) && \
	  ./bin/loadtest -bin bin -scenario boundary -resellers 1000 -per 9 -repeat $(LOADREPEAT) && \
	  ./bin/loadtest -bin bin -scenario memory && \
	  ./bin/loadtest -bin bin -scenario orders -resellers 100 -per 9 -direct 100 -repeat $(LOADREPEAT) && \
	  ./bin/loadtest -bin bin -scenario remote-bound -resellers 500 -per 9 && \
	  if [ -n "$${PROVISIONING_TEST_POSTGRES:-}" ]; then \
	    ./bin/loadtest -bin bin -scenario stores -resellers 1000 -per 9 -repeat $(LOADREPEAT); \
	  else echo "stores scenario skipped: set PROVISIONING_TEST_POSTGRES (eval \$$(make -s postgres-up))"; fi; } | tee bench-load.txt

.PHONY: bench-rows
bench-rows: ## Only what the four summary rows need, quicker than bench: BenchmarkCall and BenchmarkColdStart of internal/bench (ROWCOUNT=3 runs), loadtest boundary (LOADREPEAT=3 runs), then bench-summary.
	$(GO) test -run '^$$' -bench 'Call|ColdStart' -benchmem -count $(ROWCOUNT) ./internal/bench | tee bench.txt
	$(GO) build -o bin/ ./cmd/... ./internal/loadtest/cmd/...
	./bin/loadtest -bin bin -scenario boundary -resellers 1000 -per 9 -repeat $(LOADREPEAT) | tee bench-load.txt
	$(MAKE) --no-print-directory bench-summary

.PHONY: bench-summary
bench-summary: ## The four rows (plugin boundary, bulk via the daemon, daemon hop, cold start) from bench.txt and bench-load.txt: medians, ratios, targets.
	$(GO) run ./internal/bench/cmd/benchsummary -go bench.txt -load bench-load.txt | tee bench-summary.txt

CHAOS_ACCOUNTS ?= 2000
CHAOS_KILLS ?= 5
CHAOS_ORDERS ?= 500
CHAOS_ORDER_KILLS ?= 3
.PHONY: chaos
chaos: ## Chaos, reliability and security tests at full size (CHAOS_ACCOUNTS=2000, CHAOS_KILLS=5, CHAOS_ORDERS=500, CHAOS_ORDER_KILLS=3; the two-daemon ones need PROVISIONING_TEST_POSTGRES, see postgres-up); CI runs them small.
	CHAOS_ACCOUNTS=$(CHAOS_ACCOUNTS) CHAOS_KILLS=$(CHAOS_KILLS) CHAOS_ORDERS=$(CHAOS_ORDERS) CHAOS_ORDER_KILLS=$(CHAOS_ORDER_KILLS) $(GO) test -count=1 -timeout 60m -v ./internal/e2e

PGDIR ?= $(CURDIR)/.postgres
.PHONY: postgres-up
postgres-up: ## Start a throwaway PostgreSQL (Debian's package) in .postgres on a unix socket; prints the export for PROVISIONING_TEST_POSTGRES.
	@dsn=$$(./scripts/postgres.sh up '$(PGDIR)') && echo "export PROVISIONING_TEST_POSTGRES='$$dsn'"

.PHONY: postgres-down
postgres-down: ## Stop the PostgreSQL that postgres-up started (rm -rf .postgres to drop its data).
	./scripts/postgres.sh down '$(PGDIR)'

.PHONY: clean
clean: ## Remove build output.
	rm -rf bin .demo bench.txt
