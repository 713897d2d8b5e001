#!/usr/bin/env bash
# Build a fully static x86_64 driftguard binary, without Docker. Two C libraries, two uses:
#
#   packaging/docker/build-static.sh                 # musl: the portable binary for hosts
#   packaging/docker/build-static.sh --libc glibc    # glibc: the container image's binary
#
# musl (the default) runs on any x86_64 Linux and reads /etc/hosts and /etc/resolv.conf
# itself: build it to carry to a host (packaging/install.sh --binary) or into the .deb.
# glibc linked statically (static-pie) is faster — as fast as the dynamic build, where musl
# costs ≈20 % more CPU per check (its memcpy; BENCHMARKS.md, "the container ships a static
# glibc build") — and resolves names with glibc's built-in `files` and `dns` sources,
# which is all the FROM scratch image offers. It is
# for the image only: on a host whose /etc/nsswitch.conf names another source
# (myhostname, resolve, …) glibc would load that host's module into it, which crashes a
# static program unless the host's glibc is the one it linked, so that build refuses to
# start there (src/name_service.rs).
#
# Needs: rustup + cargo; for musl, musl-gcc (Debian/Ubuntu package `musl-tools`, installed
# with apt-get when run as root on a Debian-like host); for glibc, the C toolchain every
# Rust build on Linux already uses, with glibc's static libraries (libc6-dev; glibc-static
# on Fedora/RHEL). ring and mimalloc compile C with them.
# Honours CARGO_TARGET_DIR like cargo itself does.
#
# Output: progress on stderr; the path of the binary as the last line on stdout. Exits
# non-zero if the build fails or the result is not statically linked.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

say() { printf 'build-static: %s\n' "$*" >&2; }
die() { printf 'build-static: ERROR: %s\n' "$*" >&2; exit 1; }

LIBC=musl
case "$#:${1:-}" in
    0:) ;;
    2:--libc) LIBC="$2" ;;
    1:--libc=*) LIBC="${1#--libc=}" ;;
    *) die "usage: build-static.sh [--libc musl|glibc]" ;;
esac
case "$LIBC" in
    musl) TARGET=x86_64-unknown-linux-musl ;;
    # The host's own target, named explicitly: with --target, RUSTFLAGS reach only the
    # binary, not build scripts and proc macros (which rustc must be able to load).
    glibc) TARGET=x86_64-unknown-linux-gnu ;;
    *) die "--libc must be musl or glibc (got '$LIBC')" ;;
esac

command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust with rustup, 1.90 or newer)"
[ "$(uname -m)" = x86_64 ] || die "this script builds x86_64 binaries on an x86_64 host"

# 1. The C toolchain: musl-gcc for musl (ring's build script looks for it); glibc's static
# archives for glibc.
if [ "$LIBC" = musl ] && ! command -v musl-gcc >/dev/null 2>&1; then
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
if [ "$LIBC" = glibc ]; then
    libc_a="$(cc -print-file-name=libc.a 2>/dev/null || true)"
    [ -f "$libc_a" ] || die "glibc's static libc.a not found (cc -print-file-name=libc.a): install libc6-dev (glibc-static on Fedora/RHEL)"
    # The banner of the glibc linked in (libc.so.6 prints it when run): the binary compares
    # it with a host's before it lets that host's name service modules load (src/name_service.rs).
    DRIFTGUARD_LINKED_GLIBC="$("$(cc -print-file-name=libc.so.6)" 2>/dev/null | sed -n 1p || true)"
    case "$DRIFTGUARD_LINKED_GLIBC" in
        "GNU C Library "*) export DRIFTGUARD_LINKED_GLIBC ;;
        *) die "cannot read the banner of glibc's libc.so.6 (cc -print-file-name=libc.so.6)" ;;
    esac
    say "linking $DRIFTGUARD_LINKED_GLIBC"
fi

# 2. The Rust standard library for the target.
if command -v rustup >/dev/null 2>&1; then
    if ! rustup target list --installed | grep -qx "$TARGET"; then
        say "adding the $TARGET target with rustup"
        rustup target add "$TARGET" >&2
    fi
else
    say "rustup not found; assuming the $TARGET standard library is installed"
fi

# 3. Build. For musl, CC_<target> names the C compiler of ring's and libmimalloc-sys's
# build scripts; for glibc, crt-static links glibc, libgcc and those C parts into one
# static-pie executable, stripped of its symbol table (4.7 MB of 23.6: the image stays
# well under its 21 MB bound; panics still name their source line) and with its start-up
# relocations packed (RELR: binutils 2.38 and glibc 2.36 or newer; 0.7 MB smaller, and
# ≈0.8 MB less resident after start, as they are no longer read at start).
cd "$ROOT"
if [ "$LIBC" = musl ]; then
    say "cargo build --release --locked --target $TARGET (in $ROOT)"
    CC_x86_64_unknown_linux_musl=musl-gcc \
        cargo build --release --locked --target "$TARGET" >&2
else
    flags="-C target-feature=+crt-static -C strip=symbols -C link-arg=-Wl,-z,pack-relative-relocs"
    say "RUSTFLAGS='$flags' cargo build --release --locked --target $TARGET (in $ROOT)"
    RUSTFLAGS="${RUSTFLAGS:-} $flags" \
        cargo build --release --locked --target "$TARGET" >&2
fi

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
    # glibc's ldd: "not a dynamic executable" (or "statically linked" for static-pie).
    ldd_out="$(ldd "$BIN" 2>&1 || true)"
    say "ldd: $ldd_out"
    case "$ldd_out" in
        *"not a dynamic executable"* | *"statically linked"*) static=yes ;;
        *"=>"*) die "ldd lists shared libraries: the binary is not static" ;;
    esac
fi
[ "$static" = yes ] || die "could not confirm that $BIN is statically linked (need 'file' or 'ldd')"

say "static $LIBC binary OK ($(du -h "$BIN" | cut -f1))"
printf '%s\n' "$BIN"
