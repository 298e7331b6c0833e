#!/usr/bin/env bash
# Makes sure the tests' Postgres answers; starts this machine's cluster when it does not.
set -euo pipefail
url=${EGRESS_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
if psql "$url" -qtAc 'select 1' >/dev/null 2>&1; then
  echo "postgres: reachable"
  exit 0
fi
if command -v pg_ctlcluster >/dev/null 2>&1; then
  version=$(ls /etc/postgresql | sort -V | tail -n1)
  echo "postgres: starting cluster $version/main"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 30); do
    psql "$url" -qtAc 'select 1' >/dev/null 2>&1 && { echo "postgres: reachable"; exit 0; }
    sleep 1
  done
fi
echo "postgres: not reachable at $url (set EGRESS_TEST_POSTGRES_URL)" >&2
exit 1
