#!/usr/bin/env bash
# The headless tour: starts the cloud service with demo data on 127.0.0.1:8787, syncs the
# manager CLI against it and shows the tenant tree. Ctrl+C stops the service.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

cargo build --release --locked -p usagedesk-cloud -p usagedesk-cli
bin=target/release
demo=target/demo
mkdir -p "$demo"
rm -f "$demo"/cloud.db*
"$bin/usagedesk-cloud" demo-data --out "$demo/data" --accounts 2000 --months 24 --seed 1
"$bin/usagedesk-cloud" load --db "$demo/cloud.db" "$demo/data"
token=$("$bin/usagedesk-cloud" token create --db "$demo/cloud.db" --account '*' --name demo 2>/dev/null | tail -n 1)
"$bin/usagedesk-cloud" serve --db "$demo/cloud.db" --listen 127.0.0.1:8787 &
cloud=$!
trap 'kill $cloud 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf http://127.0.0.1:8787/api/v1/version >/dev/null && break; sleep 0.1; done

export USAGEDESK_TOKEN="$token" USAGEDESK_DATA_DIR="$demo/cli"
"$bin/usagedesk-cli" sync --url http://127.0.0.1:8787
"$bin/usagedesk-cli" accounts tree --depth 1
month=$(date -d "$(date +%Y-%m-01) -1 month" +%Y-%m)
"$bin/usagedesk-cli" usage --account sp-01 --month "$month" --scope children
echo
echo "The cloud service runs on http://127.0.0.1:8787. Try:"
echo "  USAGEDESK_TOKEN=$token USAGEDESK_DATA_DIR=$demo/cli $bin/usagedesk-cli accounts search north"
echo "Press Ctrl+C to stop."
wait $cloud
