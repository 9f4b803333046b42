#!/usr/bin/env bash
# Builds the installable packages of MergeGuard: a release build of the app and the
# `mergeguard` command line, bundled by Tauri's bundler into a .deb (and an .rpm, which
# comes for free: its writer needs no tools). Prints the path of the .deb on the last line.
#   scripts/package.sh            # then: sudo apt install ./<printed path>
# Works offline: the Tauri CLI comes from the npm registry as a prebuilt binary, cached in
# ~/.cache/mergeguard/tauri-cli. No AppImage: its tools are downloaded at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mergeguard/target}
bash scripts/install-deps.sh

CLI_HOME=${MG_TAURI_CLI_HOME:-$HOME/.cache/mergeguard/tauri-cli}
if [ ! -x "$CLI_HOME/node_modules/.bin/tauri" ]; then
  command -v npm >/dev/null || { echo "npm is needed to fetch the Tauri CLI (apt install npm)" >&2; exit 1; }
  mkdir -p "$CLI_HOME"
  (cd "$CLI_HOME" && npm install --no-save --no-audit --no-fund --loglevel=error @tauri-apps/cli@2 >/dev/null)
fi
TAURI="$CLI_HOME/node_modules/.bin/tauri"

# The bundler copies the listed example files only; refuse to package a checkout whose
# example files differ from what git holds (an edited example would ship).
if git -C "$ROOT" rev-parse >/dev/null 2>&1 && ! git -C "$ROOT" diff --quiet -- examples/; then
  echo "examples/ has uncommitted changes; commit or restore them before packaging" >&2
  exit 1
fi

# `tauri build` compiles the app only; the CLI goes in beside it as /usr/bin/mergeguard.
cargo build --release -q -p mergeguard --bin mergeguard
CLI_BIN=$CARGO_TARGET_DIR/release/mergeguard
# deb.files takes an absolute source path: CARGO_TARGET_DIR is outside the checkout. The
# guides an IT contact or admin needs (sign-in registration, sender domain, campaign file)
# go to /usr/share/doc/mergeguard, where the window's hints send them.
FILES=$(printf '"/usr/bin/mergeguard":"%s"' "$CLI_BIN")
for doc in oauth sender-domain campaign-file; do
  FILES="$FILES$(printf ',"/usr/share/doc/mergeguard/%s.md":"%s"' "$doc" "$ROOT/docs/$doc.md")"
done
CONFIG=$(printf '{"bundle":{"linux":{"deb":{"files":{%s}},"rpm":{"files":{%s}}}}}' "$FILES" "$FILES")
TAURI_APP_PATH=src-tauri "$TAURI" build --bundles deb,rpm --config "$CONFIG" >&2

DEB=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb | head -n1)
RPM=$(ls -t "$CARGO_TARGET_DIR"/release/bundle/rpm/*.rpm 2>/dev/null | head -n1 || true)
[ -n "$RPM" ] && echo "rpm: $RPM" >&2
echo "$DEB"
