#!/usr/bin/env bash
# Prove the container image with a real OCI engine (podman, as root): build the FROM scratch
# image from the prebuilt static binary (Dockerfile.static), then run the README's lines
# exactly as written — `docker` is a shell function that calls podman with the flags this
# machine needs — and walk the README's walkthrough against the container:
#
#   1. build (report the image size: must stay under 21 MB), then `save` it, remove it and
#      `load` it back (the air-gapped path of docs/operations.md);
#   2. the README's `docker run` line; health, the walkthrough (contract, check, usage),
#      the key it chose; non-root user, read-only root file system, data on the named volume;
#   3. the README's `docker exec … accounts add-key default` (the admin socket) → a working key;
#   4. `docker stop` (SIGTERM) → exit status 0 before the engine's SIGKILL;
#   5. a new container on the same volume, with a config file and a private CA mounted
#      (docs/operations.md, "Custom CA for webhooks"): every record is still there, and
#      webhook deliveries from inside the container reach an HTTPS receiver on the host whose
#      certificate only that CA vouches for, by two host names: one from the container's
#      /etc/hosts (--add-host) and one only a DNS server knows (--dns, packaging/docker/
#      dns-stub.py) — the static glibc binary resolves both with nothing in the image but
#      itself; the signatures verify; stop → exit 0;
#   6. the guide's compose lines (podman-compose) on the same volume: the records are there,
#      the root is read-only, stop → exit 0, `down` keeps the volume.
#
#   DRIFTGUARD_BIN=/path/to/static/driftguard packaging/docker/test-image.sh
#   packaging/docker/test-image.sh          # builds the image's binary first (--libc glibc)
#
# Everything podman stores (image, containers, the volume, networks) lives in a temporary
# root that is deleted at the end, so the host's own podman state is never touched. The
# README's line publishes 127.0.0.1:8080, so that port must be free. Needs root, curl,
# openssl, python3. Without podman it installs podman, runc and podman-compose with apt-get;
# where that is impossible (not root, no apt-get, the install fails) it prints SKIPPED and
# exits 0 — except under CI=true, where a missing podman is a failure (CI must run this
# test, never skip it). Any other failure prints the container's log and exits non-zero.
set -euo pipefail
umask 022          # the files mounted into the container must be readable by UID 65532

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
README="$ROOT/README.md"
GUIDE="$ROOT/docs/operations.md"
START=$SECONDS
# 15 MB until schema import (SPEC 6.1): its parsers — sqlparser's eight dialects most of
# all (≈5 MB), apache-avro, parquet's footer reader — brought the static binary to ≈21 MB;
# the static glibc build, stripped, is ≈18.3 MB (docs/operations.md, "The static binary").
MAX_IMAGE_BYTES=21000000
PORT=8080                       # the README's -p 127.0.0.1:8080:8080
API="http://127.0.0.1:$PORT/api/v1"
DEADLINE_SECS=60

say() { printf 'test-image: %s\n' "$*" >&2; }
step() { printf 'test-image: == %s (at %ss)\n' "$*" "$((SECONDS - START))" >&2; }
# Without podman: a loud skip on a developer's machine, a failure under CI=true.
cannot_run() {
    case "${CI:-}" in
        true | TRUE | True | 1) say "FAIL: $* (under CI=true a missing tool is a failure, not a skip)"; exit 1 ;;
    esac
    say "SKIPPED: $*"
    exit 0
}

# --- podman (installed if missing; skipped only where it cannot be) ----------------------
if ! command -v podman >/dev/null 2>&1 || ! command -v runc >/dev/null 2>&1 \
    || ! command -v podman-compose >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        cannot_run "podman/runc/podman-compose are missing and cannot be installed here (needs root and apt-get)"
    fi
    say "installing podman, runc and podman-compose with apt-get"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc podman-compose; } >&2; then
        cannot_run "apt-get could not install podman, runc and podman-compose on this machine"
    fi
fi
[ "$(id -u)" -eq 0 ] || { say "FAIL: run as root (rootful podman)"; exit 1; }
for tool in curl openssl python3; do
    command -v "$tool" >/dev/null 2>&1 || { say "FAIL: $tool is required"; exit 1; }
done

if [ -n "${DRIFTGUARD_BIN:-}" ]; then
    BIN="$DRIFTGUARD_BIN"
else
    BIN="$("$HERE/build-static.sh" --libc glibc | tail -n 1)"
fi
[ -x "$BIN" ] || { say "FAIL: no executable at '$BIN'"; exit 1; }
CA_BUNDLE="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$CA_BUNDLE" ] || { say "FAIL: no CA bundle at $CA_BUNDLE (set CA_BUNDLE)"; exit 1; }

# Short paths: podman's runroot holds unix sockets (108-byte limit).
WORK="$(mktemp -d /tmp/dg-image.XXXXXX)"
# vfs: no overlay in these machines' kernels/containers; runc: crun cannot handle the cgroup
# layout here; cgroupfs: no systemd to ask. --root/--runroot/--tmpdir keep every image,
# container and volume of this test out of the host's podman state.
PODMAN=(podman --root "$WORK/storage" --runroot "$WORK/runroot" --tmpdir "$WORK/libpod"
    --network-config-dir "$WORK/networks"
    --storage-driver vfs --runtime runc --cgroup-manager cgroupfs --events-backend file)
# The default ulimits exceed this machine's hard limits.
RUN_FLAGS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

# The README says `docker`; here that is podman with the flags above (and podman-compose
# for `docker compose`).
docker() {
    local command=$1
    shift
    case "$command" in
        run) "${PODMAN[@]}" run "${RUN_FLAGS[@]}" "$@" ;;
        compose) podman-compose --podman-args "${PODMAN[*]:1}" --podman-run-args "${RUN_FLAGS[*]}" "$@" ;;
        *) "${PODMAN[@]}" "$command" "$@" ;;
    esac
}

HELPER_PIDS=()                  # the webhook receiver and the DNS server
cleanup() {
    for pid in "${HELPER_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    "${PODMAN[@]}" rm --force --all --time 0 >/dev/null 2>&1 || true
    "${PODMAN[@]}" volume rm --force --all >/dev/null 2>&1 || true
    "${PODMAN[@]}" rmi --force --all >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
    say "FAIL: $*"
    if "${PODMAN[@]}" container exists driftguard 2>/dev/null; then
        say "---- podman logs driftguard ----"
        "${PODMAN[@]}" logs driftguard 2>&1 | sed 's/^/    /' >&2 || true
        say "---- end of log ----"
    fi
    for helper in receiver dns; do
        if [ -s "$WORK/$helper.err" ]; then
            say "---- $helper ----"
            sed 's/^/    /' "$WORK/$helper.err" >&2
        fi
    done
    exit 1
}

# The n-th (1-based) ```sh block after the first line of `file` that starts with `start`.
doc_block() {
    awk -v start="$2" -v want="$3" '
        !found && index($0, start) == 1 { found = 1; next }
        found && /^```sh$/ { n++; inside = (n == want); next }
        found && /^```$/ { if (inside) exit; next }
        inside { print }
    ' "$1"
}
readme_block() { doc_block "$README" "$@"; }
guide_block() { doc_block "$GUIDE" "$@"; }

# An authenticated GET: prints the body, fails unless the status is `want`.
get() {
    local key=$1 path=$2 want=${3:-200} out code
    out="$WORK/get.json"
    code="$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -H "X-API-Key: $key" "$API$path")" || code=000
    [ "$code" = "$want" ] || fail "GET $path answered $code (expected $want): $(cat "$out" 2>/dev/null)"
    cat "$out"
}

wait_healthy() {
    local start=$SECONDS code
    while :; do
        [ "$("${PODMAN[@]}" inspect --format '{{.State.Running}}' driftguard)" = true ] \
            || fail "the container stopped: exit status $("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' driftguard)"
        code="$(curl -s -o "$WORK/health.json" -w '%{http_code}' --max-time 2 "$API/health")" || code=000
        [ "$code" = 200 ] && break
        [ $((SECONDS - start)) -lt "$DEADLINE_SECS" ] \
            || fail "GET $API/health did not answer 200 within ${DEADLINE_SECS}s (last status: $code)"
        sleep 0.2
    done
    say "health: $(cat "$WORK/health.json") after $((SECONDS - start))s"
}

# `docker stop` must end in exit status 0: the daemon finished its graceful shutdown before
# the engine's SIGKILL (after 10 s, = server.shutdown_grace; a SIGKILL would be status 137).
stop_gracefully() {
    local start=$SECONDS status
    docker stop driftguard >/dev/null || fail "docker stop failed"
    status="$("${PODMAN[@]}" inspect --format '{{.State.ExitCode}}' driftguard)"
    [ "$status" = 0 ] || fail "exit status $status after docker stop (expected 0)"
    # The log is read whole first: `podman logs | grep -q` under pipefail fails when grep
    # stops reading at its match before podman has written the rest (SIGPIPE).
    local log
    log="$("${PODMAN[@]}" logs driftguard 2>&1)" || fail "podman logs failed"
    grep -q "stop signal received" <<<"$log" \
        || fail "the log does not show a graceful shutdown"
    say "docker stop: exit status 0 after $((SECONDS - start))s"
}

# --- 1. build, size, save/load ----------------------------------------------------------
step "the runtime stages of Dockerfile and Dockerfile.static are identical"
runtime_stage() { sed -n '/^FROM scratch$/,$p' "$1"; }
if ! diff <(runtime_stage "$HERE/Dockerfile" | sed 's#--from=builder ##; s# /image/# #') \
    <(runtime_stage "$HERE/Dockerfile.static") >&2; then
    fail "the FROM scratch stages of packaging/docker/Dockerfile and Dockerfile.static differ (above)"
fi

step "build the image from the static binary (Dockerfile.static)"
t=$SECONDS
mkdir -p "$WORK/context/data"
cp "$BIN" "$WORK/context/driftguard"
cp "$CA_BUNDLE" "$WORK/context/ca-certificates.crt"
"${PODMAN[@]}" build --quiet -f "$HERE/Dockerfile.static" -t driftguard "$WORK/context" >&2 \
    || fail "podman build failed"
size="$("${PODMAN[@]}" image inspect --format '{{.Size}}' driftguard)"
say "image driftguard: $size bytes ($((size / 1000)) kB; binary $(stat -c %s "$BIN") bytes), built in $((SECONDS - t))s"
[ "$size" -lt "$MAX_IMAGE_BYTES" ] || fail "the image is $size bytes, over the $MAX_IMAGE_BYTES limit"

step "air-gapped path: docker save, remove, docker load"
airgap="$(guide_block '**Air-gapped hosts.**' 1)"
printf '%s\n' "$airgap" | sed 's/^/    $ /' >&2
printf '%s\n' "$airgap" | grep -q '^docker save ' || fail "no docker save line in docs/operations.md"
# The save line, then the image is removed (a different host), then the load line.
(cd "$WORK" && eval "$(printf '%s\n' "$airgap" | grep '^docker save ')") >&2 || fail "docker save failed"
say "saved archive: $(stat -c %s "$WORK/driftguard.tar") bytes"
"${PODMAN[@]}" rmi driftguard >/dev/null || fail "could not remove the image"
(cd "$WORK" && eval "$(printf '%s\n' "$airgap" | grep '^docker load ')") >&2 || fail "docker load failed"
"${PODMAN[@]}" image exists driftguard || fail "docker load did not bring back the image driftguard"

# --- 2. the README's docker run line and walkthrough ------------------------------------
step "the README's docker run line"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "127.0.0.1:$PORT is in use: the README's line publishes that port; free it first"
fi
run_block="$(readme_block '## Or evaluate it with one `docker run`' 1)"
# Everything after the `docker build` line (CI built the same runtime stage above, from the
# static binary, because no registry serves rust: here).
run_lines="$(printf '%s\n' "$run_block" | sed '0,/^docker build /d')"
printf '%s\n' "$run_lines" | grep -q '^docker run ' || fail "no docker run line found in the README"
printf '%s\n' "$run_lines" | sed 's/^/    $ /' >&2
KEY=""
eval "$run_lines" >&2 || fail "the README's docker run line failed"
[[ "$KEY" == dg_live_* ]] || fail "the README's lines did not set KEY"
wait_healthy

pid="$("${PODMAN[@]}" inspect --format '{{.State.Pid}}' driftguard)"
owner="$(stat -c %u:%g "/proc/$pid")"
[ "$owner" = 65532:65532 ] || fail "the daemon runs as $owner, expected the unprivileged 65532:65532"
root_opts="$(awk '$5 == "/" { print $6 }' "/proc/$pid/mountinfo" | tail -n 1)"
[[ "$root_opts" == ro,* || "$root_opts" == ro ]] || fail "the root file system is mounted '$root_opts', expected read-only"
mounts="$("${PODMAN[@]}" inspect --format '{{range .Mounts}}{{.Type}}:{{.Name}}:{{.Destination}} {{end}}' driftguard)"
[[ "$mounts" == *"volume:driftguard-data:/data"* ]] || fail "/data is not the named volume driftguard-data: $mounts"
say "runs as uid:gid $owner; root file system '$root_opts'; mounts: $mounts"

step "the README's walkthrough against the container"
walk="$(readme_block '## Walkthrough with curl' 1 | grep -v '^KEY=')"
out="$(KEY="$KEY" bash -euo pipefail -c "$walk" 2>&1)" || { printf '%s\n' "$out" >&2; fail "the walkthrough failed"; }
printf '%s\n' "$out" | sed 's/^/    /' >&2
CONTRACT="$(printf '%s\n' "$out" | grep -o 'ctr_[a-z0-9]*' | head -n 1 || true)"
[ -n "$CONTRACT" ] || fail "the walkthrough printed no contract id"
for expect in '"status":"ok"' '"result":"warning"' '"severity":70' '"total_checks":1' '"columns"'; do
    printf '%s\n' "$out" | grep -qF "$expect" || fail "the walkthrough's output lacks $expect"
done

step "the README's docker exec … accounts add-key default (admin socket)"
exec_line="$(readme_block '## Or evaluate it with one `docker run`' 2)"
printf '%s\n' "$exec_line" | sed 's/^/    $ /' >&2
added="$(eval "$exec_line")" || fail "docker exec … add-key failed"
ADDED_KEY="$(printf '%s\n' "$added" | grep -o 'dg_live_[A-Za-z0-9_-]*' | head -n 1 || true)"
[ -n "$ADDED_KEY" ] || fail "add-key printed no live key: $added"
get "$ADDED_KEY" /usage >/dev/null
say "add-key printed a live key; it authenticates"

step "docker stop (SIGTERM)"
stop_gracefully
docker rm driftguard >/dev/null

# --- 5. a new container on the same volume, private CA for webhooks ---------------------
step "a new container on the same volume, with a config file and a private CA"
CFG="$WORK/etc"
mkdir -p "$CFG"
chmod 0755 "$WORK" "$CFG"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=DriftGuard test CA" \
    -keyout "$CFG/ca.key" -out "$CFG/webhook-ca.pem" 2>"$WORK/openssl.err" \
    || fail "openssl: $(cat "$WORK/openssl.err")"
GATEWAY="$("${PODMAN[@]}" network inspect podman --format '{{range .Subnets}}{{.Gateway}}{{end}}')"
[ -n "$GATEWAY" ] || fail "cannot read the gateway address of podman's default network"
openssl req -newkey rsa:2048 -nodes -subj "/CN=$GATEWAY" \
    -keyout "$CFG/receiver.key" -out "$CFG/receiver.csr" 2>"$WORK/openssl.err" \
    || fail "openssl: $(cat "$WORK/openssl.err")"
# The receiver's two names: one the engine writes into the container's /etc/hosts, one only
# the DNS server below knows (the container's resolv.conf names it).
HOSTS_NAME=receiver.hosts.test
DNS_NAME=receiver.dns.test
openssl x509 -req -in "$CFG/receiver.csr" -CA "$CFG/webhook-ca.pem" -CAkey "$CFG/ca.key" \
    -CAcreateserial -days 2 -out "$CFG/receiver.pem" \
    -extfile <(printf 'subjectAltName=IP:%s,DNS:%s,DNS:%s\nextendedKeyUsage=serverAuth\n' \
        "$GATEWAY" "$HOSTS_NAME" "$DNS_NAME") 2>"$WORK/openssl.err" \
    || fail "openssl: $(cat "$WORK/openssl.err")"
# docs/operations.md's lines, run in a directory holding webhook-ca.pem (as they expect).
ca_lines="$(guide_block '**Settings and a private CA for webhooks.**' 1)"
printf '%s\n' "$ca_lines" | sed 's/^/    $ /' >&2
printf '%s\n' "$ca_lines" | grep -q '^docker run ' || fail "no docker run line in the guide's CA section"
saved_flags=("${RUN_FLAGS[@]}")
RUN_FLAGS+=(--add-host "$HOSTS_NAME:$GATEWAY" --dns "$GATEWAY")
(cd "$CFG" && eval "$ca_lines") >&2 || fail "the guide's config-and-CA docker run failed"
RUN_FLAGS=("${saved_flags[@]}")
wait_healthy

step "every record survived"
get "$KEY" "/contracts/$CONTRACT" | grep -qF '"name":"users"' || fail "contract $CONTRACT is gone"
get "$KEY" /usage | grep -qF '"total_checks":1' || fail "the check count is gone"
checks="$(get "$KEY" /checks)"
printf '%s' "$checks" | grep -qF '"result":"warning"' || fail "the stored check is gone: $checks"
keys="$(get "$ADDED_KEY" /keys)"
[ "$(printf '%s' "$keys" | grep -o '"id":"key_' | wc -l)" -eq 2 ] || fail "expected the two live keys: $keys"
say "contract, check, usage and both keys are back"

step "webhook deliveries from the container to an HTTPS receiver on a private CA, by host name"
# Helpers on the bridge's gateway (it exists while the container runs): the receiver, and a
# DNS server that knows $DNS_NAME.
start_helper() {
    local name=$1
    shift
    "$@" 2>"$WORK/$name.err" &
    HELPER_PIDS+=($!)
    local start=$SECONDS
    until grep -q listening "$WORK/$name.err" 2>/dev/null; do
        kill -0 "${HELPER_PIDS[-1]}" 2>/dev/null || fail "the $name did not start"
        [ $((SECONDS - start)) -lt 10 ] || fail "the $name did not start within 10s"
        sleep 0.1
    done
}
RPORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
start_helper receiver python3 "$HERE/webhook-receiver.py" "$GATEWAY" "$RPORT" \
    "$CFG/receiver.pem" "$CFG/receiver.key" "$WORK/received.jsonl"
start_helper dns python3 "$HERE/dns-stub.py" "$GATEWAY" "$DNS_NAME" "$GATEWAY"
HOOKS=()
SECRETS=()
for host in "$HOSTS_NAME" "$DNS_NAME"; do
    hook="$(curl -s --max-time 10 -H "X-API-Key: $KEY" "$API/webhooks" \
        -d "{\"url\": \"https://$host:$RPORT/drift\", \"events\": [\"breaking\", \"warning\", \"pass\"]}")"
    HOOKS+=("$(printf '%s' "$hook" | grep -o '"id":"wh_[A-Za-z0-9]*"' | head -n 1 | cut -d'"' -f4 || true)")
    SECRETS+=("$(printf '%s' "$hook" | grep -o '"secret":"whsec_[^"]*"' | cut -d'"' -f4 || true)")
    [ -n "${HOOKS[-1]}" ] && [ -n "${SECRETS[-1]}" ] || fail "creating the webhook to $host answered: $hook"
done
check="$(curl -s --max-time 10 -H "X-API-Key: $KEY" "$API/check" \
    -d "{\"contract_id\": \"$CONTRACT\", \"incoming_schema\": {\"columns\": [{\"name\": \"user_id\", \"type\": \"integer\"}]}}")"
CHECK_ID="$(printf '%s' "$check" | grep -o '"id":"chk_[A-Za-z0-9]*"' | head -n 1 | cut -d'"' -f4 || true)"
[ -n "$CHECK_ID" ] || fail "the check answered: $check"
start=$SECONDS
until [ "$(wc -l <"$WORK/received.jsonl" 2>/dev/null || echo 0)" -ge 2 ]; do
    [ $((SECONDS - start)) -lt "$DEADLINE_SECS" ] || {
        for id in "${HOOKS[@]}"; do
            curl -s -H "X-API-Key: $KEY" "$API/webhooks/$id/deliveries" >&2 || true
        done
        fail "two deliveries did not reach the receiver within ${DEADLINE_SECS}s (deliveries above)"
    }
    sleep 0.2
done
grep -q "query $DNS_NAME type 1" "$WORK/dns.err" || fail "the container never asked the DNS server for $DNS_NAME"
python3 - "$WORK/received.jsonl" "$CHECK_ID" "${SECRETS[@]}" <<'PY' || fail "the deliveries do not verify"
import hashlib, hmac, json, sys
log, check_id, *secrets = sys.argv[1:]
unsigned = set(secrets)
for line in open(log, encoding="utf-8"):
    entry = json.loads(line)
    body, headers = entry["body"], entry["headers"]
    got = headers.get("x-driftguard-signature", "")
    signer = [s for s in secrets
              if hmac.compare_digest(hmac.new(s.encode(), body.encode(), hashlib.sha256).hexdigest(), got)]
    assert signer, f"X-DriftGuard-Signature {got!r} matches no webhook's secret"
    assert check_id in body, f"the body does not name {check_id}: {body[:200]}"
    unsigned.discard(signer[0])
    print(f"test-image: delivery {headers.get('x-driftguard-delivery')} to Host {headers.get('host')} "
          f"verified: HMAC-SHA256 signature matches, body names {check_id}", file=sys.stderr)
assert not unsigned, "a webhook's delivery is missing"
PY
for id in "${HOOKS[@]}"; do
    start=$SECONDS
    until get "$KEY" "/webhooks/$id/deliveries" | grep -qF '"status":"delivered"'; do
        [ $((SECONDS - start)) -lt "$DEADLINE_SECS" ] || fail "the delivery of $id is not marked delivered"
        sleep 0.2
    done
done
say "by /etc/hosts and by DNS: the deliveries lists show both delivered"

step "docker stop (SIGTERM) of the second container"
stop_gracefully
docker rm driftguard >/dev/null

# --- 6. the compose file, on the same volume ---------------------------------------------
step "the guide's compose lines (podman-compose), on the same volume"
compose="$(guide_block '**Compose.**' 1)"
printf '%s\n' "$compose" | sed 's/^/    $ /' >&2
up="$(printf '%s\n' "$compose" | grep '^docker compose .* up ' || true)"
down="$(printf '%s\n' "$compose" | grep '^docker compose .* down' || true)"
[ -n "$up" ] && [ -n "$down" ] || fail "the guide's compose block lacks an up or a down line"
(cd "$ROOT" && eval "$(printf '%s\n' "$compose" | sed -n '1,/^docker compose .* up /p')") \
    >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log" >&2; fail "docker compose up failed"; }
wait_healthy
get "$KEY" "/contracts/$CONTRACT" | grep -qF '"name":"users"' || fail "the compose service does not see the volume's records"
[ "$("${PODMAN[@]}" inspect --format '{{.HostConfig.ReadonlyRootfs}}' driftguard)" = true ] \
    || fail "the compose service's root file system is not read-only"
stop_gracefully
(cd "$ROOT" && eval "$down") >"$WORK/compose.log" 2>&1 || { cat "$WORK/compose.log" >&2; fail "docker compose down failed"; }
"${PODMAN[@]}" volume exists driftguard-data || fail "docker compose down removed the volume"
say "compose: up, the same records, read-only root, stop → 0, down keeps the volume"

say "PASS in $((SECONDS - START))s"
