#!/usr/bin/env bash
# Starts the real services the tests talk to, on free loopback ports, and stops them.
#   scripts/services.sh start   writes .tools/services.env (source it) and PID files
#   scripts/services.sh stop    stops exactly the processes it started, by PID
#   scripts/services.sh stop-s3 | start-s3   takes s3s-fs away and brings it back on the
#                               same port and folder (the browser tests' storage outage)
set -euo pipefail
cd "$(dirname "$0")/.."
. .tools/env
state=.tools/services
mkdir -p "$state"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_port() {
  for _ in $(seq 1 100); do
    python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1',$1)))" && return 0
    sleep 0.1
  done
  return 1
}

start_s3() {
  s3s-fs --host 127.0.0.1 --port "$1" --access-key egress-test-key --secret-key egress-test-secret \
    "$PWD/$state/s3" >>"$state/s3s-fs.log" 2>&1 &
  echo $! >"$state/s3s-fs.pid"
}

stop() {
  for pidfile in "$state"/*.pid; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-start}" in
  start)
    stop
    rm -rf "$state/s3" "$state/maildir"
    mkdir -p "$state/s3/egress-test" "$state/maildir/tmp" "$state/maildir/new" "$state/maildir/cur"
    s3_port=$(free_port)
    start_s3 "$s3_port"
    smtp_port=$(free_port)
    python3 -m aiosmtpd -n -l "127.0.0.1:$smtp_port" -c aiosmtpd.handlers.Mailbox "$PWD/$state/maildir" \
      >"$state/smtp.log" 2>&1 &
    echo $! >"$state/smtp.pid"
    wait_port "$s3_port" || { cat "$state/s3s-fs.log"; echo "services: s3s-fs did not start"; exit 1; }
    wait_port "$smtp_port" || { cat "$state/smtp.log"; echo "services: SMTP server did not start"; exit 1; }
    cat >"$state/env" <<ENV
export EGRESS_TEST_S3_ENDPOINT=http://127.0.0.1:$s3_port
export EGRESS_TEST_S3_BUCKET=egress-test
export EGRESS_TEST_S3_ROOT=$PWD/$state/s3
export EGRESS_TEST_S3_ACCESS_KEY=egress-test-key
export EGRESS_TEST_S3_SECRET_KEY=egress-test-secret
export EGRESS_TEST_SMTP_URL=smtp://127.0.0.1:$smtp_port
export EGRESS_TEST_MAILDIR=$PWD/$state/maildir
ENV
    echo "services: s3s-fs on 127.0.0.1:$s3_port, SMTP on 127.0.0.1:$smtp_port"
    ;;
  stop)
    stop
    echo "services: stopped"
    ;;
  stop-s3)
    kill "$(cat "$state/s3s-fs.pid")" 2>/dev/null || true
    rm -f "$state/s3s-fs.pid"
    ;;
  start-s3)
    . "$state/env"
    s3_port=${EGRESS_TEST_S3_ENDPOINT##*:}
    start_s3 "$s3_port"
    wait_port "$s3_port" || { echo "services: s3s-fs did not start again"; exit 1; }
    ;;
esac
