#!/usr/bin/env bash
# Issue 13's fresh-machine measurement: a fresh clone of this checkout's HEAD with
# EGRESS_TOOLS, CARGO_TARGET_DIR and CARGO_HOME pointed at empty folders, `make run` timed
# to "listening", then `make test` timed after it. It stops the server it started, by PID,
# and leaves the folder (tens of GB) for the logs: delete it after.
#
#   scripts/fresh-machine.sh [FOLDER]     (default: a new folder under /var/tmp)
set -uo pipefail
cd "$(dirname "$0")/.."
root=${1:-$(mktemp -d /var/tmp/egress-fresh.XXXX)}
git clone -q . "$root/egress"
mkdir -p "$root/tools" "$root/target" "$root/cargo"
cd "$root/egress"
export EGRESS_TOOLS=$root/tools CARGO_TARGET_DIR=$root/target CARGO_HOME=$root/cargo
echo "fresh-machine: $root (logs: run.log, test.log)"
started=$SECONDS
make run >"$root/run.log" 2>&1 &
make=$!
until grep -q "listening on" "$root/run.log"; do
  kill -0 "$make" 2>/dev/null || { tail -n 30 "$root/run.log"; echo "fresh-machine: make run stopped"; exit 1; }
  sleep 2
done
echo "make run: listening after $((SECONDS - started)) s"
kill "$(pgrep -f "^$CARGO_TARGET_DIR/debug/egress serve")"
wait "$make"
started=$SECONDS
make test >"$root/test.log" 2>&1
status=$?
echo "make test: exit $status after $((SECONDS - started)) s"
grep -h "^bootstrap" "$root/run.log" "$root/test.log"
exit "$status"
