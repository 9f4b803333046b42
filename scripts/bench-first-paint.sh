#!/usr/bin/env bash
# Launch to first painted frame with real content, and idle memory, of the release app
# beside a peer app, measured the same way in one run (issue 14): scripts/first-paint.py
# alternates the apps on one private Xvfb (1366x768), a fresh data folder per launch,
# inside one keychain session, and prints each launch with MergeGuard's start-up steps.
#   scripts/bench-first-paint.sh [PEER_BINARY ...]
# Environment:
#   MG_APP_BIN=PATH        measure that MergeGuard binary (default: build the release app)
#   MG_FIRST_PAINT_RUNS=N  rounds (default 5)
#   MG_FIRST_PAINT_IDLE=1  also the PSS of each app and its WebKit processes 10 s in
#   MG_BENCH_RT=1          run Xvfb, the apps and the poller with round-robin real-time
#                          priority (chrt -r 10), so a build running on the same machine
#                          disturbs the figures much less (root, or CAP_SYS_NICE)
# The peer used in BENCHMARKS.md is m-tem/mailnir, built offline as the header of
# ../shared/recipes/startup-side-by-side.sh says; nothing of it is in this repository.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
if [ -n "${MG_BENCH_RT:-}" ] && [ -z "${MG_BENCH_RT_ON:-}" ]; then
  MG_BENCH_RT_ON=1 exec chrt -r 10 bash "$0" "$@"
fi
if [ -z "${MG_TEST_KEYRING:-}" ]; then
  exec bash tests/servers/keyring-session.sh bash scripts/bench-first-paint.sh "$@"
fi
if [ -n "${MG_APP_BIN:-}" ]; then
  BIN=$MG_APP_BIN
else
  cargo build -q -p mergeguard-app --release
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/mergeguard-app
fi
XVFB_PID=
trap '[ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true' EXIT
. scripts/xvfb-lib.sh
start_xvfb 130 160
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)${MG_BENCH_RT_ON:+; real-time priority}"
args=(--runs "${MG_FIRST_PAINT_RUNS:-5}" --trace)
[ -n "${MG_FIRST_PAINT_IDLE:-}" ] && args+=(--idle)
python3 scripts/first-paint.py "${args[@]}" "$BIN" "$@"
