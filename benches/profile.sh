#!/usr/bin/env bash
# Where a POST /check spends its CPU: the release daemon under the benchmark suite's check
# load (oha, 64 keep-alive connections, the 20-column contract of benches/suite/load.rs),
# sampled by `perf record` (call graphs from frame pointers) for the load's whole run.
# Prints the load's figures and the top of the profile: by symbol (self time), by symbol
# with what it calls (inclusive), and by shared object. The samples stay in
# target/profile/perf.data for `perf report -i target/profile/perf.data`.
#
#   bash benches/profile.sh [seconds]      # default 15; needs perf (Debian's linux-perf) and oha
#   DG_PROFILE_BIN=path/to/driftguard bash benches/profile.sh   # another build (e.g. the one before a change)
#
# The release profile keeps symbols; RUSTFLAGS adds frame pointers for the call graphs, so
# this build is separate (target/profile/) from the one users run.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-15}
command -v perf >/dev/null || { echo "profile.sh: needs perf (apt-get install linux-perf)"; exit 1; }
command -v oha >/dev/null || { echo "profile.sh: needs oha (cargo install oha --locked --version 1.16.0)"; exit 1; }
bin=${DG_PROFILE_BIN:-}
if [ -z "$bin" ]; then
    RUSTFLAGS="-C force-frame-pointers=yes" cargo build --release --locked --target-dir target/profile
    bin=target/profile/release/driftguard
fi
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
key=dg_live_ProfileProfileProfileProfile0001
cat >"$work/driftguard.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
[storage]
data_dir = "$work/data"
[limits]
requests_per_minute = 100000000
[credits]
default_quota = 1000000000000
[log]
level = "warn"
TOML
DRIFTGUARD_BOOTSTRAP_KEY=$key "$bin" --config "$work/driftguard.toml" serve 2>"$work/log" &
pid=$!
base=http://127.0.0.1:$port/api/v1
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done
columns=$(python3 -c 'import json; print(json.dumps([{"name": f"c{i}", "type": "string", "required": True} for i in range(20)]))')
contract=$(curl -sf -H "X-API-Key: $key" -d "{\"name\":\"bench\",\"schema\":{\"columns\":$columns}}" "$base/contracts" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
body="{\"contract_id\":\"$contract\",\"incoming_schema\":{\"columns\":$columns}}"
oha -z 2s -c 64 -m POST -T application/json -d "$body" -H "X-API-Key: $key" --no-tui "$base/check" >/dev/null
data=target/profile/perf.data
mkdir -p target/profile
perf record -F 1999 -g -p "$pid" -o "$data" -- sleep "$seconds" 2>/dev/null &
recorder=$!
oha -z "${seconds}s" -c 64 -m POST -T application/json -d "$body" -H "X-API-Key: $key" --no-tui "$base/check" |
    grep -E "Requests/sec|Slowest|99.00%|Success rate" || true
wait "$recorder"
# perf pads its columns to the terminal's width: squeeze the spaces.
# (sed, not head: head would close the pipe early, and pipefail would end the script.)
top() { grep -E '^ +[0-9]+\.[0-9]+%' | sed -E 's/ +/ /g; s/ - - *$//' | sed -n "1,$1p"; }
echo "== top of the profile: self time, by symbol"
perf report -i "$data" --no-children --sort symbol --stdio 2>/dev/null | top 25
echo "== inclusive time (the symbol and what it calls), by symbol"
# (the runtime's own frames — threads, tokio, hyper, std — are left out: everything is
# under them)
perf report -i "$data" --children --sort symbol --stdio -g none 2>/dev/null |
    grep -vE 'tokio::|std::|core::|alloc::|start_thread|hyper|entry_SYSCALL|do_syscall' | top 30
echo "== by shared object"
perf report -i "$data" --no-children --sort dso --stdio 2>/dev/null | top 6
