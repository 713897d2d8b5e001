#!/usr/bin/env bash
# Build the static binary with build-static.sh, then prove it serves: start `driftguard serve`
# on a free loopback port with a fresh data directory, wait for GET /api/v1/health to answer
# 200, make one authenticated request with the generated bootstrap key, then prove that the
# binary alone resolves host names: `driftguard check --url http://driftguard.test:PORT` run
# in a chroot holding nothing but the binary and an /etc/hosts naming the daemon. For the
# static glibc build, the same chroot with an /etc/nsswitch.conf naming `myhostname` and a
# libnss_myhostname.so.2 in lib/ must be refused at start with exit status 2, naming the
# module (src/name_service.rs), and run once the libc.so.6 beside it is the glibc it linked
# (this machine's, when it was built here); the musl build, which never loads modules, must
# not mind.
# Last, send SIGTERM and require a clean exit (status 0). Any failure prints the daemon's log
# and exits non-zero. The chroot needs root (or unprivileged user namespaces), and the run
# beside the linked glibc a build made on this machine: where either is missing, that part
# is a failure under CI=true and a loud skip otherwise.
#
#   packaging/docker/test-static.sh                     # build (musl), then test
#   packaging/docker/test-static.sh --libc glibc        # build the image's binary, then test
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
    BIN="$("$HERE/build-static.sh" "$@" | tail -n 1)"
fi
[ -x "$BIN" ] || { say "FAIL: no executable at '$BIN'"; exit 1; }
BIN="$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")"   # the daemon runs in another directory
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

# A part this machine cannot run: a failure under CI=true (CI must run every part), a loud
# skip elsewhere.
cannot_test() {
    case "${CI:-}" in
        true | TRUE | True | 1) fail "$* (under CI=true that is a failure, not a skip)" ;;
    esac
    say "SKIPPED: $*"
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

# Name resolution by the binary alone: a root with the binary, a schema and /etc/hosts.
chroot_run() {
    if [ "$(id -u)" -eq 0 ]; then
        chroot "$WORK/root" "$@"
    else
        unshare --map-root-user chroot "$WORK/root" "$@"
    fi
}
mkdir -p "$WORK/root/etc" "$WORK/root/lib/x86_64-linux-gnu"
cp "$BIN" "$WORK/root/driftguard"
printf '127.0.0.1 driftguard.test\n' >"$WORK/root/etc/hosts"
printf '{"columns": [{"name": "user_id", "type": "integer"}]}\n' >"$WORK/root/schema.json"
if ! chroot_run /driftguard --version >/dev/null 2>&1; then
    cannot_test "name resolution in an empty root: cannot chroot here (needs root or user namespaces)"
else
    contract="$(curl -s --max-time 5 -H "X-API-Key: $(cat "$KEYFILE")" "$BASE/contracts" -d \
        '{"name": "users", "schema": {"columns": [{"name": "user_id", "type": "integer", "required": true}]}}')"
    case "$contract" in '{"id":"ctr_'*) ;; *) fail "creating a contract answered: $contract" ;; esac
    lookup() {
        DRIFTGUARD_KEY="$(cat "$KEYFILE")" chroot_run /driftguard check --contract users \
            --schema /schema.json --url "http://driftguard.test:$PORT" >"$WORK/lookup.out" 2>&1
    }
    rc=0; lookup || rc=$?
    [ "$rc" -eq 0 ] || fail "check --url http://driftguard.test:$PORT in an empty root exited $rc: $(cat "$WORK/lookup.out")"
    say "resolved driftguard.test from /etc/hosts with nothing but the binary: $(head -c 120 "$WORK/lookup.out")"

    printf 'hosts: files myhostname dns\n' >"$WORK/root/etc/nsswitch.conf"
    : >"$WORK/root/lib/x86_64-linux-gnu/libnss_myhostname.so.2"
    rc=0; lookup || rc=$?
    if grep -q 'GNU C Library' "$BIN"; then
        [ "$rc" -eq 2 ] && grep -q 'libnss_myhostname.so.2' "$WORK/lookup.out" \
            || fail "static glibc with a loadable myhostname module: expected a refusal (status 2) naming it, got $rc: $(cat "$WORK/lookup.out")"
        say "static glibc refuses a host whose nsswitch.conf would load a module: $(cat "$WORK/lookup.out")"
        host_libc="$(cc -print-file-name=libc.so.6 2>/dev/null || true)"
        if [ -f "$host_libc" ] && grep -qF "$("$host_libc" | sed -n 1p)" "$BIN"; then
            cp "$host_libc" "$WORK/root/lib/x86_64-linux-gnu/libc.so.6"
            rc=0; lookup || rc=$?
            [ "$rc" -eq 0 ] || fail "beside the glibc it linked, the check exited $rc: $(cat "$WORK/lookup.out")"
            say "beside the very glibc it linked ($("$host_libc" | sed -n 1p)) it runs"
        else
            cannot_test "the run beside the glibc it linked: this machine's libc.so.6 ('$host_libc') is not the one it linked (build it here)"
        fi
    else
        [ "$rc" -eq 0 ] || fail "with an nsswitch.conf naming myhostname the check exited $rc: $(cat "$WORK/lookup.out")"
        say "an nsswitch.conf naming a module changes nothing for this build (it loads none)"
    fi
fi

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
