# Run `make help` for the list of targets.
SHELL := /bin/bash
GO ?= go
STATICCHECK_VERSION ?= v0.8.2
GOBIN ?= $(shell $(GO) env GOPATH)/bin
STATICCHECK := $(GOBIN)/staticcheck

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_\/-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: test
test: ## Full test suite with race detector; starts a throwaway redis-server (REQUIRE_INTEGRATION=1)
	scripts/with-redis.sh $(GO) test -race -count=1 ./...

.PHONY: test/short
test/short: ## Unit tests only, no infrastructure
	$(GO) test -short -count=1 ./...

.PHONY: lint
lint: $(STATICCHECK) ## go vet, staticcheck (pinned) and gofmt
	$(GO) vet ./...
	$(STATICCHECK) ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

$(STATICCHECK):
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.PHONY: bench
bench: ## Benchmarks (limiter vs redis_rate vs x/time/rate, and the rest), with a throwaway redis-server
	scripts/with-redis.sh $(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: bench/smoke
bench/smoke: ## Every benchmark once (-benchtime=1x), as CI runs them
	scripts/with-redis.sh $(GO) test -run '^$$' -bench . -benchtime=1x ./...

.PHONY: fuzz
fuzz: ## Each fuzz target for 30 s
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime 30s $$pkg || exit 1; \
	  done; \
	done

.PHONY: demo
demo: ## The whole system on this machine: Redis, the DocuSign simulator, the worker, sample events (DEMO_ONCE=1: exit when done)
	DEMO_ONCE=$(DEMO_ONCE) $(GO) run ./cmd/demo

.PHONY: sim
sim: ## Run the DocuSign simulator from the shipped demo seed
	$(GO) run ./cmd/docusign-sim

.PHONY: tidy
tidy: ## go mod tidy
	$(GO) mod tidy
