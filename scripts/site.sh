#!/usr/bin/env bash
# Builds the server and the site it serves, as `cargo leptos build` does, with cargo and
# wasm-bindgen-cli alone: cargo-leptos takes ~25 minutes to build on a fresh machine of
# two cores, longer than everything else `make run` needs. cargo-leptos stays the tool for
# `cargo leptos watch` (`make dev`); both write the same site to the same place.
#
#   scripts/site.sh              debug server (target/debug/egress) and site (target/site)
#   scripts/site.sh --release    release server and the site optimised for size (the image)
#   scripts/site.sh --site-only  the site alone: `make test` serves the binary `cargo test`
#                                built (the same code and features: Cargo.toml names the
#                                tests' features among the dependencies, so no second build)
#
# The server and then the browser half build in one target directory, so the browser
# half reuses the build scripts and proc-macros (syn, serde_derive, wasm-bindgen's and
# Leptos's macros) the server built: two thirds of its work in a directory of its own
# (283 units there, 147 here). Less work in all, though no longer side by side; a same-day
# comparison of the two layouts' wall times is still to be made. (cargo-leptos keeps its browser half in target/front, so `make dev`
# builds its own.) The bootstrap's `build` step (wasm-bindgen-cli, needed only at the end)
# runs beside them: on a fresh machine it fills the core the project's longest crates
# and links leave idle.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/env ] || scripts/bootstrap.sh toolchain
. .tools/env

release=
server=1
for arg in "$@"; do
  case "$arg" in
    --release) release=1 ;;
    --site-only) server= ;;
    *) echo "site.sh: unknown argument $arg (--release, --site-only)" >&2; exit 2 ;;
  esac
done
site=${LEPTOS_SITE_ROOT:-target/site}
if [ -n "$release" ]; then
  server_args=(--release)
  lib_args=(--profile wasm-release)
  wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/egress.wasm"
else
  server_args=()
  lib_args=()
  wasm="$CARGO_TARGET_DIR/wasm32-unknown-unknown/debug/egress.wasm"
fi

tools=
trap '[ -z "$tools" ] || kill "$tools" 2>/dev/null || true' EXIT
scripts/bootstrap.sh build &
tools=$!
if [ -n "$server" ]; then
  cargo build --bin egress --no-default-features --features ssr "${server_args[@]}"
fi
# shellcheck disable=SC2086 # WASM_BUILD_STD is empty or one flag
cargo build --lib --target wasm32-unknown-unknown --no-default-features --features hydrate \
  "${lib_args[@]}" $WASM_BUILD_STD
wait "$tools" || { tools=; echo "site.sh: the bootstrap failed (above)" >&2; exit 1; }
tools=

# The site is assembled beside the old one and swapped in, so a running server never
# serves a half-written package.
next="$site.next"
rm -rf "$next"
mkdir -p "$next/pkg"
wasm-bindgen --target web --no-typescript --out-dir "$next/pkg" --out-name egress "$wasm"
# Leptos loads `<output-name>.wasm` when LEPTOS_OUTPUT_NAME was set at compile time
# (.tools/env sets it, as cargo-leptos does).
mv "$next/pkg/egress_bg.wasm" "$next/pkg/egress.wasm"
if [ -n "$release" ] && command -v wasm-opt >/dev/null; then
  # The features rustc enables for wasm32-unknown-unknown; wasm-opt must accept them.
  wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-reference-types --enable-multivalue \
    -o "$next/pkg/egress.opt.wasm" "$next/pkg/egress.wasm"
  mv "$next/pkg/egress.opt.wasm" "$next/pkg/egress.wasm"
fi
cp style/main.css "$next/pkg/egress.css"
cp -R public/. "$next/"
rm -rf "$site"
mv "$next" "$site"
echo "site: $site ($(du -sh "$site" | cut -f1))"
[ -z "$server" ] || echo "server: $CARGO_TARGET_DIR/$([ -n "$release" ] && echo release || echo debug)/egress"
