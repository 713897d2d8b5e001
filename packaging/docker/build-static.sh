#!/usr/bin/env bash
# Build a fully static driftguard binary (x86_64 musl) without Docker — the same binary the
# Dockerfile's builder stage produces.
#
#   packaging/docker/build-static.sh            # from anywhere inside the repository
#
# Needs: rustup + cargo, and musl-gcc (Debian/Ubuntu package `musl-tools`; ring and mimalloc
# compile C (ring also assembly) with it). Run as root on a Debian-like host and missing musl-tools is
# installed with apt-get; otherwise the script says what to install and stops.
# Honours CARGO_TARGET_DIR like cargo itself does.
#
# Output: progress on stderr; the path of the binary as the last line on stdout. Exits
# non-zero if the build fails or the result is not statically linked.
set -euo pipefail

TARGET=x86_64-unknown-linux-musl
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

say() { printf 'build-static: %s\n' "$*" >&2; }
die() { printf 'build-static: ERROR: %s\n' "$*" >&2; exit 1; }

command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust with rustup, 1.90 or newer)"

# 1. The C toolchain for musl (ring's build script looks for musl-gcc).
if ! command -v musl-gcc >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "musl-gcc missing; installing musl-tools with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq --no-install-recommends musl-tools >&2
    else
        die "musl-gcc not found: install the musl-tools package (e.g. 'sudo apt-get install musl-tools'), or run this script as root on a Debian-like host"
    fi
    command -v musl-gcc >/dev/null 2>&1 || die "musl-tools installed but musl-gcc is still not on PATH"
fi

# 2. The Rust standard library for the musl target.
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$TARGET"; then
        say "adding the $TARGET target with rustup"
        rustup target add "$TARGET" >&2
    fi
else
    say "rustup not found; assuming the $TARGET standard library is installed"
fi

# 3. Build. CC_<target> makes the choice of C compiler explicit for the build scripts of ring
# and of libmimalloc-sys (the static binary's allocator, see src/main.rs).
cd "$ROOT"
say "cargo build --release --locked --target $TARGET (in $ROOT)"
CC_x86_64_unknown_linux_musl=musl-gcc \
    cargo build --release --locked --target "$TARGET" >&2

# Where cargo put it (respects CARGO_TARGET_DIR and .cargo/config.toml build.target-dir).
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --locked 2>/dev/null \
    | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
[ -n "$TARGET_DIR" ] || TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BIN="$TARGET_DIR/$TARGET/release/driftguard"
[ -x "$BIN" ] || die "build finished but $BIN is missing"

# 4. Prove it is static: no ELF interpreter, nothing for the dynamic loader to do.
static=no
if command -v file >/dev/null 2>&1; then
    file_out="$(file -L "$BIN")"
    say "file: $file_out"
    case "$file_out" in
        *"dynamically linked"*) die "file reports a dynamically linked binary" ;;
        *"statically linked"* | *"static-pie linked"*) static=yes ;;
    esac
fi
if command -v ldd >/dev/null 2>&1; then
    # glibc's ldd exits 1 with "not a dynamic executable"; musl's says nothing useful.
    ldd_out="$(ldd "$BIN" 2>&1 || true)"
    say "ldd: $ldd_out"
    case "$ldd_out" in
        *"not a dynamic executable"* | *"statically linked"*) static=yes ;;
        *"=>"*) die "ldd lists shared libraries: the binary is not static" ;;
    esac
fi
[ "$static" = yes ] || die "could not confirm that $BIN is statically linked (need 'file' or 'ldd')"

say "static binary OK ($(du -h "$BIN" | cut -f1))"
printf '%s\n' "$BIN"
