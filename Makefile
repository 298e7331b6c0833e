# Egress: `make run` to try it, `make test` for every check. Both install what is missing.
SHELL := /bin/bash
# Shared by every clone on this machine, so a fresh clone does not rebuild the world.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/egress/target
ENV := source .tools/env &&

.PHONY: run dev test bench build bootstrap e2e image image-check fmt clean

## Build and start Egress on the embedded defaults (SQLite, local disk, mail to files).
run: build
	$(ENV) LEPTOS_SITE_ROOT=target/site "$$CARGO_TARGET_DIR/debug/egress" serve

## fmt, clippy, unit + integration tests (SQLite and Postgres), Playwright in Chromium.
test:
	scripts/test.sh

## Export throughput vs Postgres COPY at 100k and 1M rows, latency under load and queue
## capacity (release build; tables in docs/benchmark.md, docs/load.md and docs/queue.md).
bench:
	scripts/bootstrap.sh test
	scripts/bench.sh

## The server binary and the site, with cargo and wasm-bindgen-cli (scripts/site.sh, which
## builds the tools beside the project).
build:
	scripts/bootstrap.sh toolchain
	scripts/site.sh

## Rebuild and restart on every change (cargo-leptos, built on first use).
dev:
	scripts/bootstrap.sh dev
	$(ENV) cargo leptos watch $$LEPTOS_LIB_ARGS

## Only the browser suite (after `make build`).
e2e:
	scripts/bootstrap.sh test
	scripts/e2e.sh

## The container image (Dockerfile), and its check against the test services (needs a
## Docker engine; scripts/image-check.sh).
image:
	DOCKER_BUILDKIT=1 docker build -t egress .

image-check:
	scripts/bootstrap.sh test
	scripts/image-check.sh

fmt:
	cargo fmt --all

clean:
	rm -rf target data end2end/test-results end2end/playwright-report
