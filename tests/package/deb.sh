#!/usr/bin/env bash
# The installer test (CI): builds the .deb with scripts/package.sh, checks what is in it,
# installs it with apt (apt resolves the dependencies), starts the installed app under
# Xvfb, has it do what "Load example" does from the installed resources, runs the
# installed CLI on the copy, removes the package and checks that only the user's data is
# left. Needs root (apt), Xvfb and gnome-keyring (scripts/install-deps.sh --with-tests).
# Prints "package: N passed, M failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mergeguard/target}
W=$(mktemp -d /tmp/mg-package.XXXXXX)
passed=0 failed=0
ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
contains() { printf '%s\n' "$1" | grep -q -- "$2"; }
no_checkout_path() { ! strings "$1" | grep -qF "$ROOT"; }
imports_some() { printf '%s' "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["recipients"] else 1)'; }
XVFB_PID=
cleanup() {
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null
  if dpkg-query -W -f='${Status}' merge-guard 2>/dev/null | grep -q "install ok"; then
    apt-get -o DPkg::Lock::Timeout=120 remove -y -q merge-guard >/dev/null 2>&1
  fi
  rm -rf "$W"
}
trap cleanup EXIT

echo "==> building the package (scripts/package.sh)"
DEB=$(bash scripts/package.sh | tail -n1)
if [ ! -f "$DEB" ]; then echo "package: 0 passed, 1 failed"; exit 1; fi
echo "package: $DEB"

# What is in it.
# Paths as installed: dpkg-deb lists them as "usr/…" or "./usr/…" depending on the tool
# that wrote the archive.
dpkg-deb -c "$DEB" | awk '{print $6}' | sed -e 's|^\./||' -e 's|^|/|' > "$W/contents"
has() { grep -qx "$1" "$W/contents"; }
check "the app is /usr/bin/mergeguard-app" has /usr/bin/mergeguard-app
check "the CLI is /usr/bin/mergeguard" has /usr/bin/mergeguard
for f in campaign.toml customers.csv customers.utf8.csv newsletter.txt newsletter.html coupon.txt; do
  check "the example's $f is a resource" has "/usr/lib/MergeGuard/examples/$f"
done
check "only the example's own files ship (no script, no Outbox)" \
  test "$(grep -c '^/usr/lib/MergeGuard/examples/.' "$W/contents")" -eq 6
for s in 16x16 32x32 48x48 128x128 256x256@2 512x512; do
  check "icon $s" has "/usr/share/icons/hicolor/$s/apps/mergeguard-app.png"
done
check "a .desktop entry" has /usr/share/applications/MergeGuard.desktop
for doc in oauth sender-domain campaign-file; do
  check "the guide $doc.md is in /usr/share/doc/mergeguard" has "/usr/share/doc/mergeguard/$doc.md"
done
dpkg-deb --fsys-tarfile "$DEB" | tar -xO --wildcards '*usr/share/applications/MergeGuard.desktop' > "$W/desktop.desktop" 2>/dev/null
check "the .desktop entry has a Japanese name and comment" \
  sh -c "grep -q '^Name\[ja\]=' '$W/desktop.desktop' && grep -q '^Comment\[ja\]=' '$W/desktop.desktop'"
check "the .desktop entry is valid for the desktop (desktop-file-validate)" \
  desktop-file-validate "$W/desktop.desktop"
check "WebKitGTK is a declared dependency" sh -c "dpkg-deb -f '$DEB' Depends | grep -q libwebkit2gtk-4.1-0"

# No path of this checkout may remain in the shipped binaries.
for bin in "$CARGO_TARGET_DIR/release/mergeguard-app" "$CARGO_TARGET_DIR/release/mergeguard"; do
  check "no build-checkout path in $(basename "$bin")" no_checkout_path "$bin"
done

echo "==> installing with apt"
if apt-get -o DPkg::Lock::Timeout=300 install -y -q "$DEB" > "$W/apt.log" 2>&1; then
  ok "apt installs the package"
else
  bad "apt installs the package"; tail -20 "$W/apt.log"
fi
dpkg -L merge-guard 2>/dev/null | while read -r p; do [ -f "$p" ] && echo "$p"; done > "$W/installed"

# The installed app: the window loads, then "Load example" from the installed resources.
. scripts/xvfb-lib.sh
start_xvfb 170 200
out=$(MG_TEST_DIR="$W" timeout 120 bash tests/servers/keyring-session.sh sh -c \
  'mkdir -p "$HOME/Documents" && MERGEGUARD_DATA_DIR="$HOME/data" MG_STARTUP_PROBE=example /usr/bin/mergeguard-app' 2>"$W/app.err")
echo "$out"
check "the installed window loads its page" contains "$out" '^page-loaded-at-ms '
line=$(printf '%s\n' "$out" | grep '^example-opened ' || true)
check "Load example opens the installed example" test -n "$line"
check "the example comes from /usr/lib/MergeGuard/examples" \
  contains "$line" 'from=/usr/lib/MergeGuard/examples '
copy=$(printf '%s' "$line" | sed -n 's/.* copy=\(.*\) recipients=.*/\1/p')
check "the copy is in the user's Documents folder" \
  sh -c 'case "$0" in '"$W"'/keyring.*/Documents/MergeGuard/*) ;; *) exit 1 ;; esac' "$copy"
[ -s "$W/app.err" ] && { echo "app stderr:"; tail -5 "$W/app.err"; }

# The installed CLI on the user's copy.
json=$(/usr/bin/mergeguard import "$(dirname "$copy")/customers.csv" --json 2>&1)
check "the installed CLI imports the example's recipients" imports_some "$json"

echo "==> sizes"
bin_size=$(stat -c %s /usr/bin/mergeguard-app 2>/dev/null || echo 0)
echo "package $(du -k "$DEB" | cut -f1) KiB, installed $(dpkg-deb -f "$DEB" Installed-Size) KiB, app binary $((bin_size / 1024)) KiB, CLI $(( $(stat -c %s /usr/bin/mergeguard 2>/dev/null || echo 0) / 1024)) KiB"

echo "==> removing"
apt-get -o DPkg::Lock::Timeout=120 remove -y -q merge-guard > "$W/remove.log" 2>&1
check "apt removes the package" sh -c "! dpkg-query -W -f='\${Status}' merge-guard 2>/dev/null | grep -q 'install ok'"
left=$(while read -r p; do [ -e "$p" ] && echo "$p"; done < "$W/installed")
check "no file of the package is left ($(wc -l < "$W/installed") files checked)" test -z "$left"
[ -n "$left" ] && echo "$left"
check "nothing is left under /usr/lib/MergeGuard" test ! -e /usr/lib/MergeGuard
check "the user's copy of the example stays" test -f "$copy"

echo "package: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
