#!/usr/bin/env bash
# The whole MergeGuard test suite, on a fresh Debian 12 / Ubuntu machine:
#   1. installs what is missing (system packages, tauri-driver),
#   2. starts the real servers the tests talk to, all on loopback: Knot DNS, Postfix with
#      STARTTLS + AUTH, the fault-injection SMTP server, Xvfb, and a gnome-keyring Secret
#      Service inside a private D-Bus session,
#   3. builds the .deb, installs it with apt, starts the installed app and its CLI, and
#      removes it again (tests/package/deb.sh; skipped when arguments select a subset),
#   4. runs `cargo test --workspace` (core, command line, and the desktop app driven
#      through WebDriver under Xvfb),
#   5. stops every server it started, whatever happened.
# Extra arguments go to `cargo test` (e.g. scripts/test.sh -p mergeguard --test recipients).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

export MG_TEST_DIR=${MG_TEST_DIR:-/tmp/mergeguard-test}
mkdir -p "$MG_TEST_DIR"
# Reuse one target directory across checkouts: dependencies (Tauri, WebKit bindings,
# rustls...) are rebuilt only when Cargo.lock changes; cargo's fingerprints keep it safe.
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mergeguard/target}

step() { printf '\n==> %s\n' "$*"; }

step "Installing missing system packages"
bash scripts/install-deps.sh --with-tests

export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null 2>&1; then
  step "Installing tauri-driver (WebDriver bridge for the end-to-end test)"
  cargo install tauri-driver --locked --version '^2'
fi

cleanup() {
  step "Stopping test servers"
  bash tests/servers/stop-all.sh || true
  if [ -n "${XVFB_PID:-}" ]; then kill "$XVFB_PID" 2>/dev/null || true; fi
}
trap cleanup EXIT

step "Starting test servers"
bash tests/servers/start-all.sh

# A private X display for the WebKit window; the first free number from 90 up.
. scripts/xvfb-lib.sh
start_xvfb 90 120

package_status=0
if [ $# -eq 0 ]; then
  step "Installer test: build the .deb, install it, run it, remove it"
  bash tests/package/deb.sh || package_status=$?
fi

step "Running cargo test --workspace (inside a D-Bus session with an unlocked keyring)"
bash tests/servers/keyring-session.sh cargo test --workspace --no-fail-fast "$@"
if [ "$package_status" -ne 0 ]; then
  echo "the installer test failed (see its output above)" >&2
  exit "$package_status"
fi
