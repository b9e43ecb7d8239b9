#!/usr/bin/env bash
# Installs what is needed, then runs every test: the UI (type check, Vitest, build), Rust
# formatting and lints, unit and integration tests, the end-to-end tests of the real app
# window under Xvfb, and the Linux installer (the tested build packed as a .deb, installed with
# dpkg, started, removed), and bounded fuzzing runs of the exchange-file parsers and of the
# cloud's HTTP API.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

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
  trap 'kill $xvfb 2>/dev/null || true' EXIT
  export DISPLAY=:99
fi
export WEBKIT_DISABLE_COMPOSITING_MODE=1 WEBKIT_DISABLE_DMABUF_RENDERER=1

echo "==> cargo test"
cargo test --workspace --locked

echo "==> the .deb: build, install, start, remove"
./scripts/installer-test.sh

echo "==> fuzzing the exchange-file parsers (10 s each)"
./scripts/fuzz.sh 10

echo "==> fuzzing the cloud's HTTP API against its OpenAPI document (at most 40 examples per operation, 180 s)"
./scripts/api-fuzz.sh 40 180
