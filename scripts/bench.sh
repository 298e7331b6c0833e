#!/usr/bin/env bash
# `make bench`: export throughput against Postgres COPY (benches/export.rs) and request
# latency / SSE subscribers under load (benches/load.rs) and the queue's capacity with eight
# workers (benches/queue.rs), on a release build, against the machine's Postgres and an
# s3s-fs started here. Tables go to docs/benchmark.md, docs/load.md and docs/queue.md.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/env

scripts/postgres.sh
scripts/services.sh start
trap 'scripts/services.sh stop >/dev/null' EXIT
. .tools/services/env

cargo bench --features ssr --bench export
cargo bench --features ssr --bench load
cargo bench --features ssr --bench queue
