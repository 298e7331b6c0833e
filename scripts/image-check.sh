#!/usr/bin/env bash
# Builds the container image and runs it as deploy/compose.yaml does, against the test
# services: `make image-check`. Needs a Docker engine with BuildKit (not part of `make
# test`: no engine runs where the tests run). Each step prints its time.
#
#   1. build the image (Dockerfile) and say its size;
#   2. it runs as uid 10001, not root;
#   3. the embedded defaults: `docker run` answers /readyz, serves the site's wasm, and a
#      `docker stop` ends it cleanly (exit 0);
#   4. every Playwright test against the image (scripts/e2e.sh, Egress in a container);
#   5. the stories of several nodes (tests/suite/recovery.rs, tests/suite/many_nodes.rs) with every
#      node a container: web and worker containers sharing one Postgres and one bucket, a
#      SIGTERM to one mid-export, a kill, two starting at once.
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/env
image=${EGRESS_IMAGE:-egress:check}
started=$SECONDS
step() { printf '\n== %d:%02d  %s\n' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)) "$*"; }
container=
cleanup() {
  [ -n "$container" ] && docker rm -f "$container" >/dev/null 2>&1 || true
  scripts/services.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

step "build $image"
DOCKER_BUILDKIT=1 docker build ${DOCKER_BUILD_ARGS:-} -t "$image" .
docker image inspect "$image" --format 'image size: {{.Size}} bytes'

step "runs as a user, not root"
uid=$(docker run --rm --entrypoint id "$image" -u)
[ "$uid" = 10001 ] || { echo "the image runs as uid $uid"; exit 1; }
echo "uid $uid"

step "the embedded defaults"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
container=egress-check-$$
docker run -d --name "$container" -p "127.0.0.1:$port:3000" "$image" serve --demo-rows 200 >/dev/null
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
curl -sf "http://127.0.0.1:$port/readyz" >/dev/null || { docker logs "$container"; exit 1; }
# Read whole before matching: `grep -q` stops at the first match, and with pipefail the
# writer's broken pipe would fail the check.
logs=$(docker logs "$container" 2>&1)
grep -q "demo login: ada@acme.example" <<<"$logs" || { echo "$logs"; echo "no demo login printed"; exit 1; }
wasm_type=$(curl -sf -o /dev/null -w '%{content_type}' "http://127.0.0.1:$port/pkg/egress.wasm")
[ "$wasm_type" = application/wasm ] || { echo "pkg/egress.wasm is $wasm_type"; exit 1; }
page=$(curl -sf "http://127.0.0.1:$port/login")
grep -q '/pkg/egress.js' <<<"$page" || { echo "the page loads no site"; exit 1; }
docker stop -t 30 "$container" >/dev/null
code=$(docker inspect "$container" --format '{{.State.ExitCode}}')
[ "$code" = 0 ] || { docker logs "$container"; echo "exit code $code after docker stop"; exit 1; }
docker rm "$container" >/dev/null
container=
echo "ready, serves the site, stops with exit code 0"

step "test services"
scripts/postgres.sh
scripts/services.sh start
. .tools/services/env

step "every Playwright test against the image"
wrapper=$(mktemp)
cat >"$wrapper" <<WRAP
#!/usr/bin/env bash
# Egress in a container, with the arguments scripts/e2e.sh gives it.
exec docker run --rm --network host -v /tmp:/tmp "$image" "\$@"
WRAP
chmod +x "$wrapper"
EGRESS_E2E_BIN=$wrapper scripts/e2e.sh
rm -f "$wrapper"

step "many nodes, every one a container"
EGRESS_TEST_IMAGE=$image cargo test --features ssr --test suite -- --test-threads 2 recovery:: many_nodes::

step "done"
