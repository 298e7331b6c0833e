#!/usr/bin/env bash
# Runs the Playwright suite against a real Egress: a fresh Postgres database with demo
# data, served by the binary scripts/site.sh built. Stops what it started, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/env

admin_url=${EGRESS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db=egress_e2e_$$
port=${EGRESS_E2E_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
work=$(mktemp -d)
server_pid=

cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  psql "$admin_url" -q -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

psql "$admin_url" -q -c "CREATE DATABASE $db" >/dev/null
database_url="${admin_url%/*}/$db"

# With the test services running (make test starts them), exports go to s3s-fs and
# email to the SMTP server; else to the local disk and mail files. Two quick attempts, so
# the storage-outage test sees a failure in seconds.
services=()
if [ -n "${EGRESS_TEST_S3_ENDPOINT:-}" ]; then
  services=(--storage "s3://$EGRESS_TEST_S3_BUCKET?endpoint=$EGRESS_TEST_S3_ENDPOINT&region=us-east-1"
            --s3-access-key "$EGRESS_TEST_S3_ACCESS_KEY" --s3-secret-key "$EGRESS_TEST_S3_SECRET_KEY"
            --smtp-url "$EGRESS_TEST_SMTP_URL")
fi

# People also arrive from a "host product" with signed links (the suite signs them).
export EGRESS_E2E_JWT_SECRET="e2e shared secret, at least thirty-two bytes long"

echo "e2e: starting Egress on 127.0.0.1:$port (Postgres database $db${services:+, s3s-fs, SMTP})"
# EGRESS_E2E_BIN: another way to start Egress with these arguments (scripts/image-check.sh
# runs the container image); its files go to $work, which its user may not own.
[ -n "${EGRESS_E2E_BIN:-}" ] && chmod 0777 "$work"
LEPTOS_SITE_ROOT="$PWD/target/site" EGRESS_LOG=warn \
  "${EGRESS_E2E_BIN:-$CARGO_TARGET_DIR/debug/egress}" --database-url "$database_url" --data-dir "$work/data" \
  serve --listen "127.0.0.1:$port" --demo on --signup open --auth both --jwt-secret "$EGRESS_E2E_JWT_SECRET" --allow-private-targets --demo-rows 2000 --max-rows-per-second 400 \
  --max-attempts 2 --retry-base-seconds 0.5 "${services[@]}" >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; echo "e2e: the server died"; exit 1; }
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { cat "$work/server.log"; echo "e2e: the server never became ready"; exit 1; }

cd end2end
status=0
EGRESS_BASE_URL="http://127.0.0.1:$port" npx playwright test "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "e2e: server log:"; tail -n 50 "$work/server.log"
fi
exit "$status"
