#!/usr/bin/env bash
# The headless tour: starts the cloud service with demo data on 127.0.0.1:8787, syncs the
# manager CLI against it and shows the tenant tree. Ctrl+C stops the service.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

cargo build --release --locked -p usagedesk-cloud -p usagedesk-cli -p usagedesk-agent
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
# An online demo instance, for the agent (docs/agent.md).
inst=$(awk -F, 'NR > 1 { sub(/\r$/, ""); if ($4 == "false") { print $1; exit } }' "$demo/data/instances.csv")
echo "The cloud service runs on http://127.0.0.1:8787. Try:"
echo "  USAGEDESK_TOKEN=$token USAGEDESK_DATA_DIR=$demo/cli $bin/usagedesk-cli accounts search north"
if [ -n "$inst" ]; then
  echo "An agent for instance $inst (the demo registered a made-up key for it: reset it; then its"
  echo "license file, and its first push enrolls the agent's key):"
  echo "  $bin/usagedesk-cloud instance reset-key --db $demo/cloud.db --instance $inst --by demo"
  echo "  $bin/usagedesk-cloud license-file --db $demo/cloud.db --instance $inst -o $demo/$inst.license"
  echo "  $bin/usagedesk-agent init --state $demo/agent-$inst --license-file $demo/$inst.license --vendor-key \"\$($bin/usagedesk-cloud vendor-key --db $demo/cloud.db 2>/dev/null | head -n 1)\""
  echo "  $bin/usagedesk-agent push --state $demo/agent-$inst --url http://127.0.0.1:8787"
fi
echo "Press Ctrl+C to stop."
wait $cloud
