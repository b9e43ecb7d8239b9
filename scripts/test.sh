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

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

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
export USAGEDESK_TEST_POSTGRES_URL

# With the URL set, the PostgreSQL conformance suite and the feed fence test run here; every
# other test runs on SQLite.
echo "==> cargo test"
cargo test --workspace --locked

# The cloud's integration tests again, on PostgreSQL: the API, scoping, feed (with concurrent
# writers), ingest, air-gap, check-ins, customers, identity and load; connections killed under
# load; two serve processes on one database. The CLI, limits and restore tests are about the
# SQLite file and stay on SQLite.
echo "==> cargo test: the cloud's integration tests on PostgreSQL"
USAGEDESK_TEST_ENGINE=postgres cargo test --locked -p usagedesk-cloud \
  --test api --test airgap_feed --test airgap_imports --test airgap_keys --test airgap_moved \
  --test airgap_online --test check_in --test customers --test feed_concurrency \
  --test instance_identity --test load --test load_month_end --test lost_connection \
  --test two_processes

echo "==> the .deb: build, install, start, remove"
./scripts/installer-test.sh

echo "==> fuzzing the exchange-file parsers (10 s each)"
./scripts/fuzz.sh 10

echo "==> fuzzing the cloud's HTTP API against its OpenAPI document (at most 40 examples per operation, 180 s)"
./scripts/api-fuzz.sh 40 180
