#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to find: format, lints, the tests' build,
# unit and integration tests (SQLite and Postgres), then the browser suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it began (minutes:seconds since the start), as the bootstrap does.
step() { printf '\n== %d:%02d  %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# The toolchain first (seconds); everything else the tests need (the S3 and SMTP servers,
# LibreOffice, Chromium, wasm-bindgen-cli) installs beside the format check, clippy and the
# tests' build, which need none of it: on a fresh machine the S3 server's build alone takes
# minutes. A failed step still waits for it, so no install is cut off half-way.
scripts/bootstrap.sh toolchain
. .tools/env
scripts/bootstrap.sh test &
bootstrap=$!
services=
cleanup() {
  wait "$bootstrap" 2>/dev/null || true
  [ -z "$services" ] || scripts/services.sh stop >/dev/null
}
trap cleanup EXIT

step "rustfmt"
cargo fmt --all -- --check

step "clippy (server)"
cargo clippy --features ssr --all-targets -- -D warnings

step "clippy (browser)"
# shellcheck disable=SC2086 # WASM_BUILD_STD is empty or one flag
cargo clippy --features hydrate --lib --target wasm32-unknown-unknown $WASM_BUILD_STD -- -D warnings

# Clippy beside the tests, in a target directory of its own, was tried: the tests keep
# both cores busy (with Postgres, the S3 server and LibreOffice), and the two together
# took as long as one after the other.
step "build the tests (the dependencies are the ones make run built)"
cargo test --features ssr --no-run

step "postgres"
scripts/postgres.sh

step "test services (s3s-fs, SMTP)"
wait "$bootstrap" || { echo "test.sh: the bootstrap failed (above)" >&2; exit 1; }
services=1
scripts/services.sh start
. .tools/services/env

step "unit and integration tests (SQLite and Postgres)"
cargo test --features ssr

step "build the site (the server is the one cargo test built)"
scripts/site.sh --site-only

step "end-to-end tests (Chromium)"
scripts/e2e.sh

step "all passed"
