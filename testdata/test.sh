#!/usr/bin/env bash
# `make test`: starts one sandbox (real control plane, kwok, metrics simulator, Prometheus),
# runs every test of the module against it, and stops it whatever the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=$(testdata/tools/build.sh)
dir=$(mktemp -d "${TMPDIR:-/tmp}/opsdeck-test-sandbox.XXXXXX")
cleanup() { go run ./cmd/sandbox down --dir "$dir" || true; }
trap cleanup EXIT

go run ./cmd/sandbox up --dir "$dir" --bin "$bin" >/dev/null

export OPSDECK_SANDBOX_DIR="$dir" OPSDECK_SANDBOX_BIN="$bin" OPSDECK_REQUIRE_PROMETHEUS=1
# -p 2: the packages share the one sandbox and a 2-core machine.
go test -count=1 -p 2 -timeout 45m "$@" ./...
