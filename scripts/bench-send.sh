#!/bin/bash
# Side-by-side send benchmark, one run, same relay: MergeGuard (benches/send.rs) vs
# Postfix smtp-source (4 sessions, plain port: the relay's acceptance limit) vs the
# Python `mailmerge` 2.3.0 CLI (new STARTTLS+AUTH connection per message).
# Needs the test servers of the contract (Postfix STARTTLS+AUTH and plain ports) and a
# venv with mailmerge: MG_BENCH_VENV (default $MG_TEST_DIR/venv).
set -eu
: "${MG_TEST_DIR:=/tmp/mergeguard-test}"
: "${MG_TEST_SMTP_STARTTLS:=127.0.0.1:2525}" "${MG_TEST_SMTP_PLAIN:=127.0.0.1:2526}"
: "${MG_TEST_CA:=$MG_TEST_DIR/certs/ca.crt}" "${MG_TEST_SMTP_USER:=mailer}" "${MG_TEST_SMTP_PASSWORD:=secret}"
: "${MG_BENCH_VENV:=$MG_TEST_DIR/venv}" "${MG_BENCH_N:=2000}"
export MG_TEST_DIR MG_TEST_SMTP_STARTTLS MG_TEST_CA MG_TEST_SMTP_USER MG_TEST_SMTP_PASSWORD MG_BENCH_N
N=$MG_BENCH_N
W=$(mktemp -d); trap 'rm -rf "$W"' EXIT
echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%FT%TZ)"

# (1) MergeGuard, parallel 4 (same session count as smtp-source) and the default 2.
mg=$(MG_BENCH_PARALLEL=${MG_BENCH_PARALLEL:-2,4} cargo bench -q -p mergeguard --bench send 2>/dev/null | tee /dev/stderr | grep -o '[0-9.]* msg/s' | cut -d' ' -f1 | sort -n | tail -1)

# (2) smtp-source, 4 sessions, 1 KiB messages, plain port.
s=$(date +%s.%N)
smtp-source -d -s 4 -m "$N" -l 1024 -N -f news@shop.test -t rcpt@example.test "$MG_TEST_SMTP_PLAIN"
e=$(date +%s.%N)
ss=$(echo "$N/($e-$s)" | bc -l)
printf 'smtp-source -s 4: N=%d wall=%.2fs -> %.1f msg/s\n' "$N" "$(echo "$e-$s" | bc)" "$ss"

# (3) Python mailmerge 2.3.0 over STARTTLS+AUTH (2000 personalised rows).
H=${MG_TEST_SMTP_STARTTLS%:*}; P=${MG_TEST_SMTP_STARTTLS##*:}
{ echo email,name; for i in $(seq 1 "$N"); do echo "customer$i@example.test,Customer $i"; done; } > "$W/db.csv"
printf 'TO: {{email}}\nFROM: news@shop.test\nSUBJECT: Autumn news for {{name}}\n\nDear {{name}},\n%s\n' "$(printf 'Our autumn catalogue is out; this line pads the message. %.0s' $(seq 12))" > "$W/template.txt"
printf '[smtp_server]\nhost = %s\nport = %s\nsecurity = STARTTLS\nusername = %s\n' "$H" "$P" "$MG_TEST_SMTP_USER" > "$W/server.conf"
s=$(date +%s.%N)
(cd "$W" && echo "$MG_TEST_SMTP_PASSWORD" | SSL_CERT_FILE=$MG_TEST_CA "$MG_BENCH_VENV/bin/mailmerge" --no-dry-run --no-limit \
  --template template.txt --database db.csv --config server.conf --output-format raw > mm.log 2>&1)
e=$(date +%s.%N)
sent=$(grep -c '^>>> message [0-9]* sent' "$W/mm.log" || true)
mm=$(echo "$sent/($e-$s)" | bc -l)
printf 'mailmerge 2.3.0: N=%d sent=%d wall=%.2fs -> %.1f msg/s\n' "$N" "$sent" "$(echo "$e-$s" | bc)" "$mm"

printf 'ratio MergeGuard/smtp-source = %.2f (target >= 0.80)\n' "$(echo "$mg/$ss" | bc -l)"
printf 'ratio MergeGuard/mailmerge   = %.1fx (target >= 5x)\n' "$(echo "$mg/$mm" | bc -l)"
