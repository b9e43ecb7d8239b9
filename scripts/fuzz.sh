#!/usr/bin/env bash
# A short, bounded fuzzing run of the four exchange-file parsers (cargo-fuzz on nightly),
# seeded with the sample files of docs/airgap-format.md. Longer runs:
#   cd crates/usagedesk-airgap/fuzz && cargo +nightly fuzz run usage_data
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/../crates/usagedesk-airgap/fuzz"
seconds="${1:-10}"
# Seed corpora: the doc's sample files (extracted by the airgap crate's example).
for target in sync_key usage_data verification_key license_file; do
  mkdir -p "corpus/$target"
done
cargo run -q --manifest-path ../../../Cargo.toml -p usagedesk-airgap --example airgap-samples -- --write-corpus "$PWD/corpus"
for target in sync_key usage_data verification_key license_file; do
  echo "==> fuzzing $target for ${seconds}s"
  cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -print_final_stats=1 2>&1 | tail -n 3
done
