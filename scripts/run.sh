#!/usr/bin/env bash
# Installs what is needed, builds the UI and the app, and opens UsageDesk on its embedded
# demo: the real cloud service in-process on 127.0.0.1 with generated data, no account needed.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

npm --prefix ui run build
cargo build --locked -p usagedesk
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "no display found: starting a virtual one (Xvfb :99); take a screenshot with 'DISPLAY=:99 import -window root shot.png'"
  Xvfb :99 -screen 0 1440x900x24 -nolisten tcp >/dev/null 2>&1 &
  export DISPLAY=:99
fi
exec ./target/debug/usagedesk --demo "$@"
