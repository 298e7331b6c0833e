#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to find: format, lints, unit and
# integration tests (SQLite and Postgres), then the browser suite.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/env

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy (server)"
cargo clippy --features ssr --all-targets -- -D warnings

step "clippy (browser)"
cargo clippy --features hydrate --lib --target wasm32-unknown-unknown $WASM_BUILD_STD -- -D warnings

step "postgres"
scripts/postgres.sh

step "test services (s3s-fs, SMTP)"
scripts/services.sh start
trap 'scripts/services.sh stop >/dev/null' EXIT
. .tools/services/env

step "unit and integration tests (SQLite and Postgres)"
cargo test --features ssr

step "build the site (the server is the one cargo test built)"
scripts/site.sh --site-only

step "end-to-end tests (Chromium)"
scripts/e2e.sh
