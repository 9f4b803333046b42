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
python3 - "$DIR" "$ROWS" <<'EOF'
import sys
d, n = sys.argv[1], int(sys.argv[2])
with open(f"{d}/r.csv", "w", encoding="utf-8") as f:
    f.write("email,氏名,ポイント\n")
    for i in range(n):
        f.write(f"user{i}@example.jp,山田 太郎{i},{i % 5000}\n")
open(f"{d}/t.txt", "w").write("{{ 氏名 }} 様\n\nポイント: {{ ポイント }}\n")
open(f"{d}/t.html", "w").write("<p>{{ 氏名 }} 様</p><p>ポイント: {{ ポイント }}</p>\n")
open(f"{d}/coupon.txt", "w").write("10% off\n")
open(f"{d}/c.toml", "w").write("""id = "bench-preview"
[sender]
name = "Shop"
address = "news@shop.example.jp"
[recipients]
file = "r.csv"
[message]
subject = "{{ 氏名 }} 様へのお知らせ"
text = "t.txt"
html = "t.html"
attachments = ["coupon.txt"]
[unsubscribe]
mailto = "unsubscribe@shop.example.jp"
[outbox]
folder = "outbox"
""")
EOF
for run in 1 2 3; do
  /usr/bin/time -f "%e %M" -o "$DIR/time" "$BIN" preview --json --campaign "$DIR/c.toml" > "$DIR/out.json"
  read -r secs kib < "$DIR/time"
  echo "run $run: ${secs} s wall, peak RSS $((kib / 1024)) MiB, output $(( $(stat -c %s "$DIR/out.json") / 1048576 )) MiB"
done
