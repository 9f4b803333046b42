#!/usr/bin/env bash
# The release desktop app with a 100,000-recipient campaign (issue 11's targets): open
# to the first table page, preview steps, three checklist runs with an IPC round trip
# measured during each, and the PSS of the app and its WebKit processes after each step.
# Under a private Xvfb and keyring, driven through WebDriver (src-tauri/tests/bench_app.rs).
#   scripts/bench-app.sh [ROWS]
#   MG_APP_BIN=/usr/bin/mergeguard-app scripts/bench-app.sh   measures that binary.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mergeguard/target}
if [ -z "${MG_TEST_KEYRING:-}" ]; then
  exec bash tests/servers/keyring-session.sh bash scripts/bench-app.sh "$@"
fi
ROWS=${1:-100000}
if [ -z "${MG_APP_BIN:-}" ]; then
  cargo build -q -j 2 -p mergeguard-app --release
  export MG_APP_BIN=$CARGO_TARGET_DIR/release/mergeguard-app
fi
T=$(mktemp -d)
XVFB_PID=
cleanup() { [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
mkdir -p "$T/campaigns/Big" "$T/data"
python3 scripts/big-campaign.py "$T/campaigns/Big" "$ROWS" bench-app
. scripts/xvfb-lib.sh
start_xvfb 160 190
echo "bench-app: $ROWS recipients, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), app $MG_APP_BIN"
MG_BENCH_CAMPAIGNS=$T/campaigns cargo test -q -j 2 -p mergeguard-app --test bench_app -- --ignored --nocapture 2>&1 \
  | grep -E '^bench-app:|panicked|FAILED' || true
