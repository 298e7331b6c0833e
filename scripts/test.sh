#!/usr/bin/env bash
# Every check, in the order a failure is cheapest to find: format, the build with lints,
# unit and integration tests (SQLite and Postgres), then the browser suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step says when it began (minutes:seconds since the start), as the bootstrap does.
step() { printf '\n== %d:%02d  %s\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*"; }

# The toolchain first (seconds); everything else the tests need (the S3 and SMTP servers,
# LibreOffice, Chromium, wasm-bindgen-cli) installs beside the format check and the
# tests' build with its lints, which need none of it: the S3 server's build alone takes
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

# Clippy lints the project's crate while the tests' build compiles it: clippy-driver is the
# compiler of the workspace's crates (RUSTC_WORKSPACE_WRAPPER, CLIPPY_ARGS: how `cargo
# clippy` itself runs it), the dependencies are compiled by plain rustc and are the ones
# make run built. A separate `cargo clippy` checked every dependency a second time (~450
# crates, and the browser half's again) only to lint this one crate, and type-checked the
# crate's targets once more. Both halves are linted with warnings denied: the server with
# every target here, the browser half when the site is built below.
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver) ||
  { echo "test.sh: clippy-driver not found (rustup component add clippy)" >&2; exit 1; }
export CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings
# cargo does not count the compiler wrapper in a build's fingerprint: the crate make run
# built with plain rustc would be taken as built, and go unlinted. So this crate's
# artifacts are removed first, here and for the browser half (its dependencies stay).
cargo clean --quiet -p egress
cargo clean --quiet -p egress --target wasm32-unknown-unknown
step "build and lint the tests and benches (clippy, warnings denied)"
cargo test --features ssr --all-targets --no-run

step "wait for the test tools (bootstrap)"
wait "$bootstrap" || { echo "test.sh: the bootstrap failed (above)" >&2; exit 1; }

step "build and lint the site's browser half (clippy, warnings denied)"
scripts/site.sh --site-only

step "postgres"
scripts/postgres.sh

step "test services (s3s-fs, SMTP)"
services=1
scripts/services.sh start
. .tools/services/env

step "unit and integration tests (SQLite and Postgres)"
cargo test --features ssr

step "end-to-end tests (Chromium)"
scripts/e2e.sh

step "all passed"
