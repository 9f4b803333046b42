#!/usr/bin/env bash
# Start-up time and idle memory of the release desktop app, under a private Xvfb.
#   1. launch → page loaded: the app is started with MG_STARTUP_PROBE=1, which prints the
#      moment Tauri reports the page load finished (sign-in screen in the DOM) and quits;
#      five launches, each with a fresh data folder, median printed;
#   2. idle memory: the app is started normally, left alone for 10 s, then the PSS of the
#      app and every process under it (WebKit's web and network processes) is summed.
# Run from anywhere: scripts/bench-startup.sh   (builds the release app first; slow)
#   MG_APP_BIN=/usr/bin/mergeguard-app scripts/bench-startup.sh   measures that binary
#   instead (the installed package, or the one scripts/package.sh built), building nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# The app's start-up opens the data folder, which needs its key from the OS keychain:
# measure inside a private D-Bus session with an unlocked gnome-keyring (as the tests
# and tests/package/deb.sh do) unless the caller already runs in one.
if [ -z "${MG_TEST_KEYRING:-}" ]; then
  exec bash tests/servers/keyring-session.sh bash scripts/bench-startup.sh "$@"
fi
if [ -n "${MG_APP_BIN:-}" ]; then
  BIN=$MG_APP_BIN
else
  cargo build -q -p mergeguard-app --release
  BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/mergeguard-app
fi
T=$(mktemp -d)
XVFB_PID=
APP_PID=
cleanup() {
  [ -n "$APP_PID" ] && kill "$APP_PID" 2>/dev/null || true
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
. scripts/xvfb-lib.sh
start_xvfb 130 160

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
times=()
RUNS=${MG_STARTUP_RUNS:-5}
for i in $(seq "$RUNS"); do
  rm -rf "$T/data"; mkdir -p "$T/data"
  start=$(date +%s%3N)
  out=$(XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/data MG_STARTUP_PROBE=1 timeout 60 "$BIN" 2>/dev/null || true)
  at=$(printf '%s\n' "$out" | sed -n 's/^page-loaded-at-ms \([0-9]*\)$/\1/p')
  [ -n "$at" ] || { echo "bench-startup: the app did not report its page load" >&2; exit 1; }
  times+=($((at - start)))
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n | tr '\n' ' ')
median=$(printf "%s\n" "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
echo "launch to page loaded: median ${median} ms (runs: ${sorted% })"

rm -rf "$T/data"; mkdir -p "$T/data"
XDG_DATA_HOME=$T/data XDG_CONFIG_HOME=$T/data "$BIN" >/dev/null 2>&1 &
APP_PID=$!
sleep 10
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
total=0
report=""
for p in "$APP_PID" $(descendants "$APP_PID"); do
  kb=$(awk '/^Pss:/{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
  name=$(cat "/proc/$p/comm" 2>/dev/null || echo "?")
  total=$((total + ${kb:-0}))
  report="$report $name=$((${kb:-0} / 1024))MiB"
done
echo "idle memory after 10 s: PSS $((total / 1024)) MiB in total (${report# })"
