#!/usr/bin/env bash
# Installs what is needed, then runs every test: the UI (type check, Vitest, build), Rust
# formatting and lints, unit and integration tests, the end-to-end tests of the real app
# window under Xvfb, and the Linux installer (the tested build packed as a .deb, installed with
# dpkg, started, removed), and bounded fuzzing runs of the exchange-file parsers and of the
# cloud's HTTP API. The cloud's PostgreSQL engine is tested on a throwaway cluster
# (scripts/postgres.sh) started here and always stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# A test run builds everything once: incremental state would only take disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
# Time, and disk in use and free, after each stage, so a slow run or a full disk says where.
disk() {
  echo "--- after $1 (${SECONDS} s into the run): target $(du -sh target 2>/dev/null | cut -f1), free $(df -h --output=avail . | tail -1 | tr -d ' ')"
}

xvfb=""
pgdir=""
cleanup() {
  if [ -n "$xvfb" ]; then kill "$xvfb" 2>/dev/null || true; fi
  if [ -n "$pgdir" ]; then ./scripts/postgres.sh stop "$pgdir" || true; fi
}
trap cleanup EXIT

echo "==> UI: type check, tests, build"
npm --prefix ui run check
npm --prefix ui test
npm --prefix ui run build
disk "set-up and the UI"

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
disk clippy

# A virtual display for the real window, unless one is there already.
if [ -z "${DISPLAY:-}" ]; then
  Xvfb :99 -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb=$!
  export DISPLAY=:99
fi
export WEBKIT_DISABLE_COMPOSITING_MODE=1 WEBKIT_DISABLE_DMABUF_RENDERER=1

echo "==> a throwaway PostgreSQL cluster for the cloud's PostgreSQL engine"
pgdir=$(mktemp -d "${TMPDIR:-/tmp}/usagedesk-pg.XXXXXX")
USAGEDESK_TEST_POSTGRES_URL=$(./scripts/postgres.sh start "$pgdir")
USAGEDESK_TEST_POSTGRES_CA="$pgdir/ca.pem"
export USAGEDESK_TEST_POSTGRES_URL USAGEDESK_TEST_POSTGRES_CA

# With the URL set, the PostgreSQL conformance suite and the feed fence test run here; every
# other test runs on SQLite.
echo "==> cargo test"
cargo test --workspace --locked
disk "cargo test"

# The cloud's integration tests again, on PostgreSQL: the API, scoping, feed (with concurrent
# writers), ingest, air-gap, check-ins, customers, identity and load; connections killed under
# load; two serve processes on one database. The CLI, limits and restore tests are about the
# SQLite file and stay on SQLite, and the conformance suites ran above. The test binary just
# built (all the cloud's integration tests, tests/integration/) is run again, skipping those
# modules (asking cargo for a subset would resolve other features and rebuild).
echo "==> the cloud's integration tests on PostgreSQL"
sqlite_only=(conformance_postgres conformance_sqlite limits openapi restore secrets tokens)
mapfile -t pg_bins < <(cargo test --workspace --locked --no-run --message-format=json 2>/dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    t = m.get("target", {})
    if (m.get("reason") == "compiler-artifact" and m.get("executable") and t.get("kind") == ["test"]
            and t.get("name") == "integration" and "/crates/usagedesk-cloud/tests/" in t.get("src_path", "")):
        print(m["executable"])
')
if [ "${#pg_bins[@]}" -ne 1 ]; then
  echo "error: found ${#pg_bins[@]} cloud integration test binaries to run on PostgreSQL, not 1" >&2
  exit 1
fi
skips=()
for m in "${sqlite_only[@]}"; do skips+=(--skip "$m::"); done
(cd crates/usagedesk-cloud && USAGEDESK_TEST_ENGINE=postgres "${pg_bins[0]}" "${skips[@]}")

disk "the PostgreSQL half"

echo "==> the .deb: build, install, start, remove"
./scripts/installer-test.sh
disk "the .deb"

echo "==> fuzzing the exchange-file parsers (10 s each)"
./scripts/fuzz.sh 10
disk fuzzing

echo "==> fuzzing the cloud's HTTP API against its OpenAPI document (at most 40 examples per operation, 180 s)"
./scripts/api-fuzz.sh 40 180
disk "the API fuzzing"
