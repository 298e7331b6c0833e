# Egress as a container image: the release server and its site, run as an unprivileged
# user. README "Deploying with containers" has the walk-through.
#
#   docker build -t egress .
#   docker run --rm -p 3000:3000 egress     # the embedded defaults, demo included
#
# It builds with the project's own scripts, as `make build` does: scripts/bootstrap.sh
# (wasm-bindgen-cli) and scripts/site.sh --release (the server, then the site, in one
# target directory). The base images are arguments, for a registry mirror or pinned digests.
ARG RUST_IMAGE=rust:1.95-slim-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
ENV EGRESS_TOOLS=/opt/egress-tools CARGO_TARGET_DIR=/src/target
# The tools get a layer of their own: rebuilt only when the bootstrap or Cargo.lock (which
# pins wasm-bindgen) changes, not on every change to the code.
COPY scripts/bootstrap.sh scripts/
COPY Cargo.lock ./
RUN scripts/bootstrap.sh build
COPY . .
# Crate downloads and build outputs stay in BuildKit's cache between builds, so a change
# rebuilds only what it touches; the results are copied out of the cache mount. COPY keeps
# the files' times, which can be older than the cached build of a different tree: cargo
# would take that build as fresh, so the project's own sources are touched first. The
# binary is stripped of its symbol table (a panic's message still names its file and line).
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    find src -type f -exec touch {} + \
 && scripts/site.sh --release \
 && mkdir -p /out \
 && cp target/release/egress /out/egress \
 && strip /out/egress \
 && cp -R target/site /out/site

FROM ${RUNTIME_IMAGE}
# ca-certificates: TLS to S3, SMTP servers, webhook receivers and the database.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* \
 && useradd --uid 10001 --user-group --home-dir /var/lib/egress --create-home \
      --shell /usr/sbin/nologin egress
COPY --from=build /out/egress /usr/local/bin/egress
COPY --from=build /out/site /usr/share/egress/site
# Listen on every interface of the container; the embedded defaults keep their SQLite
# database, files and keys under /var/lib/egress/data (mount a volume there to keep them).
ENV LEPTOS_SITE_ROOT=/usr/share/egress/site \
    EGRESS_LISTEN=0.0.0.0:3000
# A numeric user, so an orchestrator's "run as non-root" check can verify it.
USER 10001:10001
WORKDIR /var/lib/egress
EXPOSE 3000
# Egress is process 1: it handles SIGTERM itself (drains, then exits; README "Rolling
# restarts"), and starts no child processes that would need reaping.
ENTRYPOINT ["egress"]
CMD ["serve"]
