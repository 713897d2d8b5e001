#!/usr/bin/env bash
# The benchmark suite in one command: installs the load generator (oha, from crates.io) if
# it is missing, builds the container's static binary (packaging/docker/build-static.sh
# --libc glibc; if that fails, the side-by-side rounds run without it, with a note), then
# builds everything in release mode and runs benches/suite/ (main.rs).
# Takes about 25 minutes on a 2-core machine (plus one-time oha and static builds).
#
#   bash benches/run.sh                              # every row
#   DG_BENCH_ROWS=check,side bash benches/run.sh     # only some row groups (benches/suite/load.rs, GROUPS)
#
# Results: stdout, target/bench/results.md and target/bench/results.json (`targets` holds
# one field per goal of issue 13: value, ratio, goal, holds).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v oha >/dev/null 2>&1; then
    echo "installing oha (the HTTP load generator) with cargo install"
    cargo install oha --locked --version 1.16.0
fi
rows=",${DG_BENCH_ROWS:-side},"
if [ -z "${DG_BENCH_STATIC_BIN:-}" ] && [[ "$rows" == *,side,* ]]; then
    if static_bin="$(bash packaging/docker/build-static.sh --libc glibc | tail -n 1)"; then
        export DG_BENCH_STATIC_BIN="$static_bin"
    else
        echo "run.sh: the static build failed; the side-by-side rounds run without it" >&2
    fi
fi
cargo bench --locked --bench suite "$@"
