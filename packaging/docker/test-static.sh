#!/usr/bin/env bash
# Build the static binary with build-static.sh, then prove it serves: start `driftguard serve`
# on a free loopback port with a fresh data directory, wait for GET /api/v1/health to answer
# 200, make one authenticated request with the generated bootstrap key, send SIGTERM and
# require a clean exit (status 0). Any failure prints the daemon's log and exits non-zero.
#
#   packaging/docker/test-static.sh                     # build, then test
#   DRIFTGUARD_BIN=/path/to/driftguard packaging/docker/test-static.sh   # test a given binary
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEADLINE_SECS=30
STOP_SECS=30

say() { printf 'test-static: %s\n' "$*" >&2; }

command -v curl >/dev/null 2>&1 || { say "FAIL: curl is required"; exit 1; }

if [ -n "${DRIFTGUARD_BIN:-}" ]; then
    BIN="$DRIFTGUARD_BIN"
else
    BIN="$("$HERE/build-static.sh" | tail -n 1)"
fi
[ -x "$BIN" ] || { say "FAIL: no executable at '$BIN'"; exit 1; }
say "testing $BIN"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/driftguard-static-test.XXXXXX")"
LOG="$WORK/daemon.log"
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    say "FAIL: $*"
    if [ -s "$LOG" ]; then
        say "---- daemon log ($LOG) ----"
        sed 's/^/    /' "$LOG" >&2
        say "---- end of log ----"
    fi
    exit 1
}

# A free port: ask the kernel for one if python3 is around, else probe random ones.
free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local port _
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    return 1
}
PORT="$(free_port)" || fail "no free port found"
BASE="http://127.0.0.1:$PORT/api/v1"

# Start from an empty directory so no ./driftguard.toml is picked up, and drop any
# DRIFTGUARD_* settings from the caller's environment.
mkdir -p "$WORK/run"
(
    cd "$WORK/run"
    exec env -u DRIFTGUARD_CONFIG -u DRIFTGUARD_BOOTSTRAP_KEY -u DRIFTGUARD_LOG \
        DRIFTGUARD_DATA_DIR="$WORK/data" DRIFTGUARD_LISTEN="127.0.0.1:$PORT" \
        "$BIN" serve
) >"$LOG" 2>&1 &
PID=$!
say "started pid $PID on 127.0.0.1:$PORT, data in $WORK/data"

# Wait for health = 200.
start=$SECONDS
code=000
while :; do
    kill -0 "$PID" 2>/dev/null || { wait "$PID" && rc=0 || rc=$?; PID=""; fail "daemon exited early with status $rc"; }
    code="$(curl -s -o "$WORK/health.json" -w '%{http_code}' --max-time 2 "$BASE/health" || true)"
    [ "$code" = 200 ] && break
    [ $((SECONDS - start)) -lt "$DEADLINE_SECS" ] || fail "GET $BASE/health did not answer 200 within ${DEADLINE_SECS}s (last status: $code)"
    sleep 0.2
done
say "health: 200 $(cat "$WORK/health.json") after $((SECONDS - start))s"

# The first start wrote the bootstrap key (mode 0600); it must work against the API.
KEYFILE="$WORK/data/bootstrap-key"
[ -s "$KEYFILE" ] || fail "no bootstrap key at $KEYFILE"
mode="$(stat -c %a "$KEYFILE")"
[ "$mode" = 600 ] || fail "bootstrap key file has mode $mode, expected 600"
code="$(curl -s -o "$WORK/usage.json" -w '%{http_code}' --max-time 5 \
    -H "X-API-Key: $(cat "$KEYFILE")" "$BASE/usage" || true)"
[ "$code" = 200 ] || fail "GET $BASE/usage with the bootstrap key answered $code"
say "usage: 200 $(cat "$WORK/usage.json")"

# Graceful stop.
kill -TERM "$PID"
start=$SECONDS
while kill -0 "$PID" 2>/dev/null; do
    [ $((SECONDS - start)) -lt "$STOP_SECS" ] || fail "still running ${STOP_SECS}s after SIGTERM"
    sleep 0.2
done
rc=0
wait "$PID" || rc=$?
PID=""
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM (expected 0)"
say "SIGTERM: clean exit (status 0) after $((SECONDS - start))s"
say "PASS"
