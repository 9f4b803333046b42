#!/usr/bin/env bash
# Installs the system packages MergeGuard needs on Debian 12 / Ubuntu: WebKitGTK for the
# window, and the real servers the test suite talks to (Postfix, Knot DNS, gnome-keyring).
# Idempotent: packages already present are skipped by apt. Needs root (or sudo).
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
