#!/usr/bin/env bash
# The benchmark suite in one command: installs the load generator (oha, from crates.io) if
# it is missing, then builds everything in release mode and runs benches/suite.rs.
# Takes about 5 minutes on a 2-core machine (plus a one-time oha build of a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v oha >/dev/null 2>&1; then
    echo "installing oha (the HTTP load generator) with cargo install"
    cargo install oha --locked --version 1.16.0
fi
cargo bench --bench suite "$@"
