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
python3 - "$T/campaigns/Big" "$ROWS" <<'PY'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(f"{d}/r.csv", "w", encoding="utf-8") as f:
    f.write("email,氏名,ポイント\n")
    for i in range(n):
        f.write(f"user{i}@example.jp,山田 太郎{i},{i % 5000}\n")
open(f"{d}/message.txt", "w").write("{{ 氏名 }} 様\n\nポイント: {{ ポイント }}\n")
open(f"{d}/coupon.txt", "w").write("10% off\n")
open(f"{d}/campaign.toml", "w").write("""id = "bench-app"
[sender]
name = "Shop"
address = "news@shop.example.jp"
[recipients]
file = "r.csv"
[message]
subject = "{{ 氏名 }} 様へのお知らせ"
text = "message.txt"
attachments = ["coupon.txt"]
[unsubscribe]
mailto = "unsubscribe@shop.example.jp"
[outbox]
folder = "outbox"
""")
PY
. scripts/xvfb-lib.sh
start_xvfb 160 190
echo "bench-app: $ROWS recipients, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ), app $MG_APP_BIN"
MG_BENCH_CAMPAIGNS=$T/campaigns cargo test -q -j 2 -p mergeguard-app --test bench_app -- --ignored --nocapture 2>&1 \
  | grep -E '^bench-app:|panicked|FAILED' || true
