#!/usr/bin/env bash
# Prove the .deb on this machine (root, Debian): its contents are exactly the binary, the unit,
# the config (a conffile) and the copyright file, with no dependencies; `dpkg -i` installs it;
# `systemd-analyze verify` accepts the installed unit (and its exposure stays at 1.5 or
# lower); the installed binary runs; `dpkg -r` removes everything but the configuration,
# which keeps the operator's edit; `dpkg --purge` (the cleanup) removes that too.
#
#   packaging/deb/test-deb.sh path/to/driftguard_*.deb
#   packaging/deb/test-deb.sh                 # builds it first with build-deb.sh
#
# Refuses to run where a driftguard package is already installed (it would remove it).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
START=$SECONDS
CONFIG=/etc/driftguard/driftguard.toml
MARK="# edited by test-deb.sh: dpkg -r must keep this line"

say() { printf 'test-deb: %s\n' "$*" >&2; }
fail() { say "FAIL: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "run as root (dpkg -i)"
for tool in dpkg dpkg-deb dpkg-query systemd-analyze; do
    command -v "$tool" >/dev/null 2>&1 || fail "$tool is required"
done

DEB="${1:-}"
if [ -z "$DEB" ]; then
    DEB="$(bash "$ROOT/packaging/deb/build-deb.sh" | tail -n 1)"
fi
[ -f "$DEB" ] || fail "no package at '$DEB'"
say "testing $DEB"

state="$(dpkg-query -W -f='${db:Status-Abbrev}' driftguard 2>/dev/null || true)"
case "$state" in
    "" | "un "*) ;;
    *) fail "a driftguard package is already on this machine (dpkg state '$state'); this test installs and removes it — purge it first" ;;
esac
[ ! -e "$CONFIG" ] || fail "$CONFIG exists already (from packaging/install.sh?); this test needs a machine without it"

installed=no
cleanup() {
    if [ "$installed" = yes ]; then
        dpkg --purge driftguard >/dev/null 2>&1 || true
        rmdir /etc/driftguard 2>/dev/null || true
    fi
}
trap cleanup EXIT

# --- the package itself ------------------------------------------------------------------
files="$(dpkg-deb --fsys-tarfile "$DEB" | tar -t | grep -v '/$' | sed 's#^\./#/#' | sort)"
say "contents:"
printf '%s\n' "$files" | sed 's/^/    /' >&2
unit="$(printf '%s\n' "$files" | grep '/systemd/system/driftguard\.service$' || true)"
[ -n "$unit" ] || fail "the package has no driftguard.service"
expected="$(printf '%s\n' /usr/bin/driftguard "$unit" "$CONFIG" /usr/share/doc/driftguard/copyright | sort)"
[ "$files" = "$expected" ] || fail "the package must hold exactly: $(echo $expected)"
depends="$(dpkg-deb -f "$DEB" Depends)"
[ -z "$depends" ] || fail "a static binary needs no dependencies, but Depends is '$depends'"
conffiles="$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles)"
[ "$conffiles" = "$CONFIG" ] || fail "the conffiles must be exactly $CONFIG, not: $conffiles"

# --- install -----------------------------------------------------------------------------
say "dpkg -i"
installed=yes
dpkg -i "$DEB" >&2 || fail "dpkg -i failed"
[ -x /usr/bin/driftguard ] || fail "/usr/bin/driftguard is missing after dpkg -i"
say "installed binary: $(/usr/bin/driftguard --version)"
cmp -s "$ROOT/driftguard.toml.example" "$CONFIG" || fail "$CONFIG is not driftguard.toml.example"
grep -q '^ExecStart=/usr/bin/driftguard serve ' "$unit" || fail "the installed unit does not run /usr/bin/driftguard"

say "systemd-analyze verify $unit"
systemd-analyze verify "$unit" >&2 || fail "systemd-analyze verify rejects the installed unit"
report="$(systemd-analyze security --offline=true "$unit" 2>&1 | tail -n 1)"
say "$report"
score="$(printf '%s' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')"
[ -n "$score" ] && awk -v s="$score" 'BEGIN { exit !(s <= 1.5) }' \
    || fail "the installed unit's exposure is '$score', above 1.5"

# --- remove: the configuration stays ----------------------------------------------------
printf '%s\n' "$MARK" >>"$CONFIG"
say "dpkg -r"
dpkg -r driftguard >&2 || fail "dpkg -r failed"
[ ! -e /usr/bin/driftguard ] || fail "/usr/bin/driftguard is still there after dpkg -r"
[ ! -e "$unit" ] || fail "$unit is still there after dpkg -r"
grep -qxF "$MARK" "$CONFIG" || fail "dpkg -r did not leave the edited $CONFIG"
state="$(dpkg-query -W -f='${db:Status-Abbrev}' driftguard)"
[ "$state" = "rc " ] || fail "after dpkg -r the package state is '$state', expected 'rc' (config files only)"
say "after dpkg -r: binary and unit gone, $CONFIG kept with its edit (state rc)"

say "dpkg --purge (cleanup)"
dpkg --purge driftguard >&2 || fail "dpkg --purge failed"
installed=no
[ ! -e "$CONFIG" ] || fail "$CONFIG is still there after dpkg --purge"
rmdir /etc/driftguard 2>/dev/null || true

say "PASS in $((SECONDS - START))s"
