#!/usr/bin/env bash
# Installs what Egress needs to build, run and test, and nothing that is already there.
# Each step prints one line. Safe to run again: a second run only checks.
#
#   scripts/bootstrap.sh toolchain  the toolchain, the wasm std and .tools/env (seconds)
#   scripts/bootstrap.sh build   toolchain + wasm-bindgen-cli + wasm-opt (scripts/site.sh)
#   scripts/bootstrap.sh dev     build + cargo-leptos (`cargo leptos watch`, `make dev`)
#   scripts/bootstrap.sh test    build + s3s-fs + SMTP sink + LibreOffice Calc + chromium + node packages
#
# It writes .tools/env (in the clone), which the Makefile sources: PATH and the cargo-leptos flags for
# the toolchain it chose (rustup's when it can add the wasm32 target, else Debian's
# rustc-web with std built from source, as in shared/TOOLCHAIN.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# Tools live outside the clone so that every clone on this machine shares them.
TOOLS=${EGRESS_TOOLS:-$HOME/.cache/egress/tools}
mkdir -p "$TOOLS/bin" .tools
what=${1:-build}
case "$what" in
  toolchain | build | dev | test) ;;
  *) echo "bootstrap.sh: unknown step $what (toolchain, build, dev, test)" >&2; exit 2 ;;
esac

# Each line says when its step began (minutes:seconds since the start), so the time each
# step took is the difference to the next line; the last line says the whole.
elapsed() { printf '%d:%02d' $((SECONDS / 60)) $((SECONDS % 60)); }
say() { printf 'bootstrap %6s  %s\n' "$(elapsed)" "$*"; }
trap 'status=$?; [ $status -eq 0 ] && say "ready"' EXIT
have() { command -v "$1" >/dev/null 2>&1; }
apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq >/dev/null; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
# The tools' locked dependencies need rustc 1.96. When the default toolchain is older and
# rustup cannot update it, Debian's rustc-web (1.96) builds them.
tool_cargo=
choose_tool_cargo() {
  [ -n "$tool_cargo" ] && return
  local v
  v=$(rustc --version 2>/dev/null | awk '{print $2}')
  if [ -n "$v" ] && [ "$(printf '%s\n1.96.0\n' "$v" | sort -V | head -n1)" = "1.96.0" ]; then
    tool_cargo=cargo
  else
    if [ ! -x /usr/bin/cargo ] || ! /usr/bin/rustc --version | grep -q ' 1\.9[6-9]'; then
      say "rust: installing Debian's rustc-web 1.96 to build the tools"
      apt_install rustc-web cargo-web
    fi
    tool_cargo=/usr/bin/cargo
  fi
}
# Tools are built with a quick release profile: they are run, not shipped.
fast_install() {
  choose_tool_cargo
  # Without the shared CARGO_TARGET_DIR: cargo install then builds in a temporary folder
  # of its own, so it holds no build lock and two can run at once.
  env -u CARGO_TARGET_DIR PATH="$(dirname "$(command -v "$tool_cargo")"):$PATH" \
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    CARGO_PROFILE_RELEASE_OPT_LEVEL=${TOOL_OPT_LEVEL:-1} CARGO_PROFILE_RELEASE_DEBUG=false \
    "$tool_cargo" install --quiet --root "$TOOLS" "$@"
}

# --- Rust toolchain and the wasm32 standard library -------------------------------------
mode=
if have rustup && rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$'; then
  say "rust: rustup with wasm32-unknown-unknown (present)"
  mode=rustup
elif have rustup && timeout 120 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
  say "rust: added wasm32-unknown-unknown with rustup"
  mode=rustup
else
  if [ -x /usr/bin/cargo ] && [ -d /usr/lib/rustlib/src/rust ] && [ -x /usr/bin/rust-lld ] \
     && [ -x /usr/bin/clippy-driver ] && [ -x /usr/bin/rustfmt ]; then
    say "rust: Debian rustc-web with std built from source (present)"
  else
    say "rust: rustup cannot add wasm32; installing Debian rustc-web, its std source and lld"
    apt_install rustc-web cargo-web rust-web-src rust-web-clippy rustfmt-web lld-22
    [ -x /usr/bin/rust-lld ] || ln -sf "$(ls /usr/bin/rust-lld* /usr/lib/llvm-22/bin/lld 2>/dev/null | head -n1)" /usr/bin/rust-lld
  fi
  mode=debian
fi

# Written whole and then renamed: scripts/site.sh and scripts/test.sh run a bootstrap
# beside their own steps, which read this file.
{
  echo "# written by scripts/bootstrap.sh; toolchain: $mode"
  echo "export CARGO_TARGET_DIR=\${CARGO_TARGET_DIR:-\$HOME/.cache/egress/target}"
  # Read by Leptos at compile time (it names the wasm file); cargo-leptos sets it too, so
  # a binary from plain cargo and one from cargo-leptos serve the same files.
  echo "export LEPTOS_OUTPUT_NAME=egress"
  if [ "$mode" = debian ]; then
    echo "export PATH=$TOOLS/bin:$TOOLS/node_modules/.bin:/usr/bin:\$PATH"
    echo "export RUSTC_BOOTSTRAP=1"
    echo "export LEPTOS_LIB_ARGS=--lib-cargo-args=-Zbuild-std=std,panic_abort"
    echo "export WASM_BUILD_STD=-Zbuild-std=std,panic_abort"
  else
    echo "export PATH=$TOOLS/bin:$TOOLS/node_modules/.bin:\$PATH"
    echo "export LEPTOS_LIB_ARGS="
    echo "export WASM_BUILD_STD="
  fi
} >.tools/env.$$
mv .tools/env.$$ .tools/env
# shellcheck disable=SC1091
. .tools/env
[ "$what" != toolchain ] || exit 0

# --- cargo-leptos, wasm-bindgen-cli and wasm-opt ------------------------------------------
# Built side by side: each build has long stretches on one core (linking, the largest
# crates), which the other fills. The cargo that builds them is chosen first (`build`),
# not in each background build.
building=()
build() { choose_tool_cargo; fast_install "$@" & building+=($!); }
# Only for `cargo leptos watch`: the longest build of all (~25 minutes on two cores), and
# `make run` and `make test` build the site without it (scripts/site.sh).
if [ "$what" = dev ]; then
  if [ -x "$TOOLS/bin/cargo-leptos" ]; then
    say "cargo-leptos: present"
  else
    say "cargo-leptos: building (~25 minutes on two cores, once)"
    build cargo-leptos --locked --features no_downloads
  fi
fi

bindgen_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/[^0-9.]/,""); print; exit}' Cargo.lock)
if [ -x "$TOOLS/bin/wasm-bindgen" ] && "$TOOLS/bin/wasm-bindgen" --version | grep -q " $bindgen_version\$"; then
  say "wasm-bindgen-cli $bindgen_version: present"
else
  say "wasm-bindgen-cli $bindgen_version: building (once)"
  build wasm-bindgen-cli --version "=$bindgen_version" --force
fi

# A wasm-opt new enough for the release build (Debian's binaryen is too old).
if [ -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  say "wasm-opt: present"
elif ! have npm; then
  say "wasm-opt: skipped (no npm); release sites are built without it"
else
  say "wasm-opt: installing binaryen from npm"
  npm install --silent --no-audit --no-fund --prefix "$TOOLS" binaryen@132 >/dev/null
fi
built() {
  [ ${#building[@]} -gt 0 ] || return 0
  for pid in "${building[@]}"; do wait "$pid"; done
  building=()
  say "$1"
}
built "tools built"

[ "$what" = test ] || exit 0

# --- Services and browser for the tests ----------------------------------------------------
# Optimised fully: the benchmark's uploads go through it. At the tools' opt-level 1 it
# built in 140 s instead of 150 s (two idle cores, 2026-12-01): not worth a second build
# for the bench. Pinned, and a copy of another version is rebuilt.
s3s_version=0.17.0
if [ -x "$TOOLS/bin/s3s-fs" ] && "$TOOLS/bin/s3s-fs" --version | grep -q " $s3s_version\$"; then
  say "s3s-fs $s3s_version: present"
else
  say "s3s-fs $s3s_version: building the S3-compatible test server (a few minutes, once, beside the next steps)"
  TOOL_OPT_LEVEL=3 build s3s-fs --version "=$s3s_version" --features binary --force
fi

if python3 -c 'import aiosmtpd' 2>/dev/null; then
  say "aiosmtpd: present"
else
  say "aiosmtpd: installing the SMTP test server from PyPI"
  python3 -m pip install --quiet --disable-pip-version-check aiosmtpd
fi

# The independent reader of exported Parquet files in the tests (tests/suite/parquet.rs).
if python3 -c 'import pyarrow' 2>/dev/null; then
  say "pyarrow: present"
else
  say "pyarrow: installing Apache Arrow's Python reader from PyPI (judges Parquet files)"
  python3 -m pip install --quiet --disable-pip-version-check pyarrow
fi

# The judge of exported spreadsheets in the tests (tests/suite/spreadsheets.rs).
if have soffice; then
  say "libreoffice-calc: present"
else
  say "libreoffice-calc: installing Debian's headless LibreOffice Calc (judges exported files)"
  apt_install libreoffice-calc-nogui
fi
if [ -x /usr/bin/chromium ]; then
  say "chromium: present"
else
  say "chromium: installing Debian's chromium"
  apt_install chromium
fi

if [ -d end2end/node_modules/playwright-core ] && [ end2end/node_modules/.package-lock.json -nt end2end/package-lock.json ]; then
  say "end2end node packages: present"
else
  say "end2end node packages: npm ci"
  (cd end2end && npm ci --silent --no-audit --no-fund >/dev/null)
fi
built "s3s-fs built"
