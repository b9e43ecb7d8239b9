#!/usr/bin/env bash
# Builds the release binaries and prints every performance figure with the baseline measured
# in the same run and their ratio (see README, "Benchmarks"). Arguments go to usagedesk-bench,
# e.g. `scripts/bench.sh --only sync,cli` or `--accounts 3000`; `--help` lists them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v sqlite3 >/dev/null || { echo "sqlite3 is needed for the export baseline: apt-get install sqlite3" >&2; exit 1; }
cargo build --release --locked -p usagedesk-cloud -p usagedesk-cli -p usagedesk-bench
exec target/release/usagedesk-bench --bin target/release "$@"
