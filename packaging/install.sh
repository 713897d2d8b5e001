#!/usr/bin/env bash
# Install DriftGuard self-hosted under systemd, without Docker or network access.
#
#   sudo packaging/install.sh [--binary PATH] [--prefix DIR] [--dry-run]
#
# Copies, from this checkout (or an unpacked release tree with the same layout):
#   the binary                              -> /usr/local/bin/driftguard            (0755, replaced)
#   packaging/systemd/driftguard.service    -> /etc/systemd/system/driftguard.service (0644, replaced)
#   driftguard.toml.example                 -> /etc/driftguard/driftguard.toml      (0644, ONLY if absent)
#   driftguard.toml.example                 -> /etc/driftguard/driftguard.toml.example (0644, replaced:
#                                              the reference for the installed version)
#   docs/operations.md                      -> /usr/local/share/doc/driftguard/operations.md
# then runs `systemctl daemon-reload` when installing into / on a host running systemd.
# An existing /etc/driftguard/driftguard.toml is never modified.
#
# Options:
#   --binary PATH   the driftguard binary to install (default: ./target/release/driftguard,
#                   else target/release/driftguard of this checkout). A static build from
#                   packaging/docker/build-static.sh (its default, musl) works on any
#                   x86_64 Linux host.
#   --prefix DIR    install under DIR instead of / (for packaging and tests; no daemon-reload)
#   --dry-run       print what would be done, change nothing
#   -h, --help      this text
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARY=""
PREFIX=""
DRY_RUN=no

say() { printf 'install: %s\n' "$*"; }
die() { printf 'install: ERROR: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --binary) [ $# -ge 2 ] || die "--binary needs a path"; BINARY="$2"; shift 2 ;;
        --binary=*) BINARY="${1#*=}"; shift ;;
        --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX="$2"; shift 2 ;;
        --prefix=*) PREFIX="${1#*=}"; shift ;;
        --dry-run) DRY_RUN=yes; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

# Normalise the prefix: "" and "/" both mean the real root.
PREFIX="${PREFIX%/}"
if [ -n "$PREFIX" ]; then
    [ -d "$PREFIX" ] || die "--prefix $PREFIX is not a directory"
    PREFIX="$(cd "$PREFIX" && pwd)"
    [ "$PREFIX" = / ] && PREFIX=""
fi

if [ -z "$BINARY" ]; then
    if [ -e ./target/release/driftguard ]; then
        BINARY=./target/release/driftguard
    else
        BINARY="$ROOT/target/release/driftguard"
    fi
fi
UNIT_SRC="$ROOT/packaging/systemd/driftguard.service"
CONFIG_SRC="$ROOT/driftguard.toml.example"
DOC_SRC="$ROOT/docs/operations.md"

[ -f "$BINARY" ] || die "no binary at $BINARY (build it with 'cargo build --release' or packaging/docker/build-static.sh, or pass --binary PATH)"
[ -x "$BINARY" ] || die "$BINARY is not executable"
[ -f "$UNIT_SRC" ] || die "missing $UNIT_SRC"
[ -f "$CONFIG_SRC" ] || die "missing $CONFIG_SRC"

BIN_DST="$PREFIX/usr/local/bin/driftguard"
UNIT_DST="$PREFIX/etc/systemd/system/driftguard.service"
CONFIG_DIR="$PREFIX/etc/driftguard"
CONFIG_DST="$CONFIG_DIR/driftguard.toml"
EXAMPLE_DST="$CONFIG_DIR/driftguard.toml.example"
DOC_DST="$PREFIX/usr/local/share/doc/driftguard/operations.md"

if [ -z "$PREFIX" ] && [ "$DRY_RUN" = no ] && [ "$(id -u)" -ne 0 ]; then
    die "installing into / needs root (use sudo), or pass --prefix DIR / --dry-run"
fi
[ "$DRY_RUN" = yes ] && say "dry run: nothing will be changed"

# install_file SRC DST MODE: copy, saying whether DST was created, replaced or unchanged.
install_file() {
    local src="$1" dst="$2" mode="$3" what
    if [ ! -e "$dst" ]; then
        what="installed"
    elif cmp -s "$src" "$dst"; then
        what="unchanged"
    else
        what="replaced"
    fi
    if [ "$DRY_RUN" = yes ]; then
        case "$what" in
            installed) say "would install $dst (mode $mode) from $src" ;;
            replaced)  say "would replace $dst (mode $mode) with $src" ;;
            unchanged) say "would leave $dst as is (identical to $src; mode set to $mode)" ;;
        esac
        return
    fi
    # install(1) unlinks an existing destination before writing a new file, so a running
    # binary is never modified in place ("text file busy"); it keeps running the old inode.
    install -D -m "$mode" "$src" "$dst"
    say "$what $dst (mode $mode)"
}

install_file "$BINARY" "$BIN_DST" 0755
install_file "$UNIT_SRC" "$UNIT_DST" 0644

# The configuration: created once, never overwritten.
if [ -e "$CONFIG_DST" ] || [ -L "$CONFIG_DST" ]; then
    say "kept existing $CONFIG_DST (never overwritten; compare it with $EXAMPLE_DST for new options)"
else
    if [ "$DRY_RUN" = yes ]; then
        say "would create $CONFIG_DST (mode 0644) from $CONFIG_SRC"
    else
        install -d -m 0755 "$CONFIG_DIR"
        install -m 0644 "$CONFIG_SRC" "$CONFIG_DST"
        say "created $CONFIG_DST (mode 0644) from $CONFIG_SRC"
    fi
fi
install_file "$CONFIG_SRC" "$EXAMPLE_DST" 0644

if [ -f "$DOC_SRC" ]; then
    install_file "$DOC_SRC" "$DOC_DST" 0644
fi

# Tell systemd about the (new or changed) unit.
if [ -n "$PREFIX" ]; then
    say "skipped 'systemctl daemon-reload' (installed under --prefix $PREFIX)"
elif ! command -v systemctl >/dev/null 2>&1; then
    say "skipped 'systemctl daemon-reload' (systemctl not found)"
elif [ ! -d /run/systemd/system ]; then
    say "skipped 'systemctl daemon-reload' (systemd is not running on this host)"
elif [ "$DRY_RUN" = yes ]; then
    say "would run 'systemctl daemon-reload'"
else
    systemctl daemon-reload
    say "ran 'systemctl daemon-reload'"
fi

cat <<NEXT

Next steps:
  1. Review /etc/driftguard/driftguard.toml. (The unit sets
     DRIFTGUARD_DATA_DIR=/var/lib/driftguard, which overrides storage.data_dir.)
  2. Start it now and at boot:   systemctl enable --now driftguard
     (if it was already running: systemctl restart driftguard to run the new binary)
  3. Status and logs:            systemctl status driftguard; journalctl -u driftguard
  4. First start only: the first API key of the account 'default' is in
     /var/lib/driftguard/bootstrap-key (readable by root), unless you set
     DRIFTGUARD_BOOTSTRAP_KEY with 'systemctl edit driftguard'.
NEXT
