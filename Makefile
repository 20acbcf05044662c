# opsdeck: build, test and demo. `make demo` and `make test` are the README's quick start.

GO           ?= go
BIN          ?= bin
SANDBOX_DIR  ?= $(or $(TMPDIR),/tmp)/opsdeck-sandbox
STATICCHECK  ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Where `make install` puts the binaries: go's own choice ($GOBIN, else the first GOPATH's bin).
GOBIN_DIR    ?= $(or $(shell $(GO) env GOBIN),$(firstword $(subst :, ,$(shell $(GO) env GOPATH)))/bin)

FUZZTIME     ?= 30s

.PHONY: build test unit race fuzz demo sandbox sandbox-down sandbox-bin bench perf lint install clean

build:
	$(GO) build -o $(BIN)/opsdeck ./cmd/opsdeck

# Every test, the sandbox integration tests included: one sandbox is started for the whole run
# and stopped afterwards (testdata/test.sh).
test:
	testdata/test.sh

# Tests that need no sandbox: the pure, model and golden-screen tests.
unit:
	$(GO) test -short ./...

# The unit tests under the race detector.
race:
	$(GO) test -race -short -count=1 ./...

# Every Fuzz* target of the module, each for FUZZTIME (go test -fuzz takes one target at a time),
# found with `go test -list`, so a new target is fuzzed without being named here. Each run
# starts from the corpus checked in under the package's testdata/fuzz/; a failure adds its input
# there, to be committed with the fix.
fuzz:
	@$(GO) test -list '^Fuzz' ./... | awk '/^Fuzz/ { names = names " " $$0; next } \
	  /^ok / { n = split(names, a, " "); for (i = 1; i <= n; i++) print $$2, a[i]; names = "" }' | \
	while read -r pkg name; do \
	  echo "fuzz: $$pkg $$name for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) "$$pkg" || exit 1; \
	done

demo:
	$(GO) run ./cmd/opsdeck --demo

# Builds the Kubernetes, etcd and kwok binaries once per machine (cached outside the checkout).
sandbox-bin:
	testdata/tools/build.sh

sandbox:
	$(GO) run ./cmd/sandbox up --dir $(SANDBOX_DIR)

sandbox-down:
	$(GO) run ./cmd/sandbox down --dir $(SANDBOX_DIR)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# The console's and the headless guard's figures at scale (README "Performance"), printed, not
# asserted: on the sandbox in PERF_DIR, started once with `go run ./cmd/sandbox up --dir
# PERF_DIR --services 2000` (several minutes) and reused. With K9S set to a k9s binary, k9s is
# measured beside them, the same way.
PERF_DIR ?= $(or $(TMPDIR),/tmp)/opsdeck-perf
K9S      ?=
perf:
	OPSDECK_PERF=1 OPSDECK_PERF_K9S=$(K9S) OPSDECK_SANDBOX_DIR=$(PERF_DIR) $(GO) test -count=1 -run 'TestPerfConsole|TestPerfGuard|TestPerfK9s|TestPerfFrameMatch' -v -timeout 45m ./cmd/opsdeck 2>&1 | grep -E '^\s+perf_(tmux|all)_test.go|^(--- |ok|FAIL)'

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Installs opsdeck, and kubectl-opsdeck so that `kubectl opsdeck ...` works as a plugin.
# GOBIN_DIR=DIR installs elsewhere; the link is relative, so the folder can move.
install:
	mkdir -p $(GOBIN_DIR)
	GOBIN=$(abspath $(GOBIN_DIR)) $(GO) install ./cmd/opsdeck
	ln -sf opsdeck $(GOBIN_DIR)/kubectl-opsdeck

clean:
	rm -rf $(BIN)
