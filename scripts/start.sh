#!/usr/bin/env bash
# Installs what MergeGuard needs on a fresh Debian 12 / Ubuntu machine (WebKitGTK and
# build tools; Rust must already be installed, see README) and launches the app.
# The first build takes a few minutes; later starts take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  echo "Rust is not installed: install it from https://rustup.rs, then run this again." >&2
  exit 1
fi
exec cargo run --release -p mergeguard-app -- "$@"
