#!/usr/bin/env bash
# Peak memory and time of `mergeguard preview --json` on a 100,000-recipient campaign
# (Japanese names, text + HTML, one attachment), three runs, release build.
#   scripts/bench-preview.sh [ROWS]
# Prints one line per run: wall seconds, peak RSS, output size.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${1:-100000}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/mergeguard/target}
cargo build --release -j 2 --bin mergeguard >/dev/null
BIN=$CARGO_TARGET_DIR/release/mergeguard
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
python3 scripts/big-campaign.py "$DIR" "$ROWS" bench-preview --html
for run in 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$DIR/time" "$BIN" preview --json --campaign "$DIR/campaign.toml" > "$DIR/out.json"
  read -r secs kib < "$DIR/time"
  echo "run $run: ${secs} s wall, peak RSS $((kib / 1024)) MiB, output $(( $(stat -c %s "$DIR/out.json") / 1048576 )) MiB"
done
