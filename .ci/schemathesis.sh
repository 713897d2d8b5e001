#!/usr/bin/env bash
# Runs schemathesis (every check, a bounded number of examples per operation) against a
# running daemon that serves docs/openapi.json. Zero failures or this exits non-zero.
#
#   bash .ci/schemathesis.sh [BINARY]     # default: target/release/driftguard
#
# The daemon gets a temporary data dir, a bootstrap key and a free loopback port, and is
# stopped on exit. Schemathesis is installed (pinned) into target/schemathesis-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=${1:-target/release/driftguard}
examples=${SCHEMATHESIS_EXAMPLES:-25}
version=4.32.5
venv=target/schemathesis-venv

[ -x "$bin" ] || { echo "FAIL: $bin is missing (cargo build --release --locked)"; exit 1; }
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null)" != "schemathesis, version $version" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi

work=$(mktemp -d)
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ]; then
        kill "$daemon_pid" 2>/dev/null || true
        wait "$daemon_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
key="dg_live_$(python3 -c 'import secrets, string; print("".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32)))')"
# Limits out of the way: schemathesis sends thousands of requests with one key (429 is
# documented, but a run that hits it tests little else).
cat >"$work/driftguard.toml" <<TOML
[limits]
requests_per_minute = 1000000
key_creations_per_hour = 1000000

[webhooks]
# Schemathesis invents receivers (and their test deliveries go out at once): this machine
# may reach only itself, so the daemon must never connect to any of them.
deny_targets = ["0.0.0.0/0", "::/0"]
TOML
DRIFTGUARD_BOOTSTRAP_KEY="$key" DRIFTGUARD_DATA_DIR="$work/data" \
    DRIFTGUARD_LISTEN="127.0.0.1:$port" DRIFTGUARD_LOG=warn \
    "$bin" --config "$work/driftguard.toml" serve 2>"$work/daemon.log" &
daemon_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
    curl -fsS "$base/api/v1/health" >/dev/null 2>&1 && break
    kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.log"; echo "FAIL: the daemon exited"; exit 1; }
    sleep 0.1
done

# What this build serves of docs/openapi.json (see .ci/schemathesis-doc.py).
"$venv/bin/python" .ci/schemathesis-doc.py "$base" "$work/openapi.json"

# Two runs: revoking a key is tested last and alone, because schemathesis reuses the ids
# it has seen (the run's own key among them), and every request after a revocation of
# that key is a 401.
st() {
    "$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run "$work/openapi.json" \
        --url "$base" \
        --header "X-API-Key: $key" \
        --checks all \
        --max-examples "$examples" \
        --seed "${SCHEMATHESIS_SEED:-1}" \
        --workers 1 \
        --generation-database none \
        --no-color \
        "$@"
}
status=0
st --exclude-operation-id revokeKey || status=$?
st --include-operation-id revokeKey || status=$?
if grep -q '"level":"ERROR"\|ERROR' "$work/daemon.log"; then
    echo "== daemon errors"; cat "$work/daemon.log"
fi
exit "$status"
