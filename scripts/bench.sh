#!/usr/bin/env bash
# Builds the release binaries and prints every performance figure with the baseline measured
# in the same run and their ratio (see README, "Benchmarks"). Arguments go to usagedesk-bench,
# e.g. `scripts/bench.sh --only sync,cli` or `--accounts 3000`; `--help` lists them.
# The app section drives the real window: it needs DISPLAY (e.g. `Xvfb :63 &`, DISPLAY=:63)
# and tauri-driver (scripts/setup.sh); `--only app --data-dir DIR` runs it alone on a synced
# cache (a copy: a newer app migrates it).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed for the export baseline: apt-get install sqlite3" >&2; exit 1; }
# The app embeds the built UI (ui/dist).
[ -d ui/node_modules ] || npm ci --prefix ui --no-audit --no-fund
npm --prefix ui run build
cargo build --release --locked -p usagedesk-cloud -p usagedesk-cli -p usagedesk-bench
# The app alone, with the command its installers build it with (`tauri build` runs it): built
# together with the binaries above, Cargo would give their shared dependencies the union of
# their features, every crate would get other symbol names, and the names the link order lists
# (src-tauri/link-order.txt) would miss the installed app's (half of them did).
cargo build --release --locked --bins --features tauri/custom-protocol
exec target/release/usagedesk-bench --bin target/release "$@"
