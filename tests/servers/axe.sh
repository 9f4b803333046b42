#!/bin/bash
# Installs axe-core (pinned in tests/a11y/package-lock.json) for the WebDriver test's
# accessibility scan. Idempotent: reinstalled only when the lock file changes. No server.
#   tests/servers/axe.sh          # $MG_TEST_DIR/a11y/node_modules/axe-core/axe.min.js
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
D=${MG_TEST_DIR:-/tmp/mergeguard-test}
case $D in /*) ;; *) D=$(pwd)/$D ;; esac
A=$D/a11y
LOCK=$HERE/../a11y/package-lock.json

if [ -f "$A/node_modules/axe-core/axe.min.js" ] && cmp -s "$LOCK" "$A/package-lock.json"; then
    echo "axe: axe-core up to date at $A"
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
    $SUDO apt-get install -y -q --no-install-recommends npm
fi
rm -rf "$A"
mkdir -p "$A"
cp "$HERE/../a11y/package.json" "$LOCK" "$A/"
(cd "$A" && npm ci --no-audit --no-fund --silent)
echo "axe: axe-core $(node -p "require('$A/node_modules/axe-core/package.json').version") installed at $A"
