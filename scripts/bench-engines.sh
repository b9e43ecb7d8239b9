#!/usr/bin/env bash
# PostgreSQL beside SQLite in one run: the load of the demo dataset (100k accounts, 24 months,
# seed 1) into a new database of each engine, then full reads of the change feed from each,
# printed as times and ratios (the goal is PostgreSQL within 1.5x of SQLite; docs/deploy.md,
# "Speed"). Builds the release binaries, generates the dataset once (target/bench, shared with
# scripts/bench.sh), starts a throwaway PostgreSQL cluster (scripts/postgres.sh; the
# `postgresql` package from scripts/setup.sh) and stops it at the end.
#
#   scripts/bench-engines.sh [RUNS]     RUNS runs in a row (default 1), each printing its table
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
case $runs in '' | *[!0-9]*) echo "usage: $0 [RUNS]" >&2; exit 2 ;; esac
cargo build --release --locked -p usagedesk-cloud --bin usagedesk-cloud --example engines_bench
today=2026-11-15
data=target/bench/dataset-100000-24-1-$today
if [ ! -e "$data/.complete" ]; then
  rm -rf "$data"
  target/release/usagedesk-cloud demo-data --out "$data" --accounts 100000 --months 24 \
    --seed 1 --today "$today"
  touch "$data/.complete"
fi
dir=$(mktemp -u "${TMPDIR:-/tmp}/usagedesk-bench-pg.XXXXXX")
url=$(scripts/postgres.sh start "$dir")
trap 'scripts/postgres.sh stop "$dir" >/dev/null' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$runs"); do
  USAGEDESK_BENCH_POSTGRES_URL=$url target/release/examples/engines_bench "$data" "$today"
done
