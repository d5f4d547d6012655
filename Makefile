# Atrium's make targets; `make help` lists them.
GO ?= go
PKGS ?= ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Run the server on 127.0.0.1:8080 with data in ./atrium-data
	$(GO) run ./cmd/atrium serve

.PHONY: build
build: ## Build bin/atrium
	$(GO) build -o bin/atrium ./cmd/atrium

.PHONY: test
test: ## Run every test (PostgreSQL, Slurm, Chromium, container and registry ones too when ATRIUM_TEST_POSTGRES, ATRIUM_TEST_SLURM, ATRIUM_TEST_CHROMIUM, ATRIUM_TEST_PODMAN, ATRIUM_TEST_REGISTRY are set)
	$(GO) test -count=1 $(PKGS)

.PHONY: test-race
test-race: ## Run every test with the race detector
	$(GO) test -count=1 -race $(PKGS)

.PHONY: lint
lint: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

.PHONY: bench
bench: ## Run the Go benchmarks
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Fuzz targets as package:Name; go test fuzzes one target per run.
FUZZTIME ?= 30s
FUZZ_TARGETS ?= .:FuzzJobSpec ./resource:FuzzParseCPU ./resource:FuzzParseMemory ./resource:FuzzSpec \
	./filter:FuzzParse ./filter:FuzzCompile ./alertcel:FuzzCompile ./httpapi:FuzzDecodeJSON

.PHONY: fuzz
fuzz: ## Fuzz each target for FUZZTIME (default 30s), one after another
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "--- fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		$(GO) test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; \
	done

.PHONY: ci
ci: ## What CI runs: start PostgreSQL and Slurm, then make test (needs root)
	./.ci/run
