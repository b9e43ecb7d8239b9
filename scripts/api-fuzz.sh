#!/usr/bin/env bash
# A bounded, schema-driven fuzzing run of the cloud's HTTP API: Schemathesis (installed by
# scripts/setup.sh) reads the OpenAPI document the real service serves on loopback and sends
# it generated requests, valid and invalid, with real tokens. It fails on any 5xx answer, on
# any answer whose status, content type, headers or body the document does not describe, and
# on an operation that takes a token answering without one.
# The service is started on a fresh database with a small demo dataset and stopped at the end,
# also on failure.
# Usage: scripts/api-fuzz.sh [MAX_EXAMPLES_PER_OPERATION] [MAX_SECONDS]   (default 40, 180)
set -euo pipefail
cd "$(dirname "$0")/.."
examples="${1:-40}"
seconds="${2:-180}"
st="${USAGEDESK_TOOLS:-$HOME/.cache/usagedesk}/schemathesis-$(cat scripts/schemathesis.version)/bin/st"
if [ ! -x "$st" ]; then
  echo "error: Schemathesis is missing at $st; run scripts/setup.sh" >&2
  exit 1
fi

cargo build -q --locked -p usagedesk-cloud
cloud=target/debug/usagedesk-cloud
work="$(mktemp -d)"
server=""
stop() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -INT "$server" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# A small demo dataset: accounts, usage, instances, licenses, reports.
"$cloud" demo-data --out "$work/data" --accounts 60 --months 3 --seed 7 >/dev/null
"$cloud" load --db "$work/cloud.db" "$work/data" >/dev/null
USAGEDESK_FUZZ_MANAGER_TOKEN="$("$cloud" token create --db "$work/cloud.db" --account '*' --name api-fuzz | tail -n 1)"
USAGEDESK_FUZZ_INGEST_TOKEN="$("$cloud" token create --db "$work/cloud.db" --account '*' --kind ingest --name api-fuzz-ingest | tail -n 1)"
export USAGEDESK_FUZZ_MANAGER_TOKEN USAGEDESK_FUZZ_INGEST_TOKEN

# Rate budgets above what the run sends, so that answers come from the handlers.
"$cloud" serve --db "$work/cloud.db" --listen 127.0.0.1:0 \
  --rate-per-address 1000000/1m --rate-per-instance 1000000/1m 2>"$work/serve.log" &
server=$!
url=""
for _ in $(seq 100); do
  url="$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/serve.log" | head -n 1)"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$url" ] || { echo "error: the cloud did not start" >&2; cat "$work/serve.log" >&2; exit 1; }
echo "==> fuzzing $url/api/v1/openapi.json: at most $examples examples per operation, ${seconds}s"

# No 5xx; every answer's status, content type, headers and body as documented; operations
# with a token refuse requests without one; undocumented methods get 405; a missing required
# header is refused.
checks=not_a_server_error,status_code_conformance,content_type_conformance
checks+=,response_headers_conformance,response_schema_conformance
checks+=,ignored_auth,unsupported_method,missing_required_header
started=$SECONDS
# Run from the temporary folder: Schemathesis keeps its caches in the working directory.
config="$PWD/scripts/schemathesis.toml"
(cd "$work" && "$st" --config-file "$config" run "$url/api/v1/openapi.json" \
  --checks "$checks" \
  --max-examples "$examples" --max-time "$seconds" --seed 1 \
  --workers 2 --request-timeout 30 --no-color \
  --generation-database none --report junit --report-dir "$work/report")
echo "==> the API fuzzing run took $((SECONDS - started)) s"
