#!/bin/bash
# Side-by-side send benchmark, ONE run, ONE relay: 2,000 personalised messages to a
# private loopback Postfix (STARTTLS + AUTH), sent by
#   (a) MergeGuard: the real engine (benches/send.rs, release build) with SmtpRelay,
#       parallel 4 (MG_BENCH_PARALLEL to change);
#   (b) Postfix's smtp-source, 4 sessions. smtp-source has no STARTTLS/AUTH, so it talks
#       to the same Postfix's plain port: the relay's acceptance limit without TLS, an
#       upper bound for any TLS client;
#   (c) the Python `mailmerge` 2.3.0 CLI (a new EHLO+STARTTLS+AUTH connection per message),
#       installed in a venv on first use (pip install mailmerge==2.3.0).
# Prints msg/s for each and the ratios. Starts and stops its own Postfix (never touches
# the test contract's instance): state under MG_BENCH_DIR, ports below.
#
#   scripts/bench-send.sh                 # N=2000, parallel 4
#   MG_BENCH_N=500 MG_BENCH_MM_N=500 scripts/bench-send.sh
#
# Env: MG_BENCH_DIR (/tmp/mergeguard-bench), MG_BENCH_STARTTLS_PORT (2725),
# MG_BENCH_TLS_PORT (2765), MG_BENCH_PLAIN_PORT (2726), MG_BENCH_N (2000),
# MG_BENCH_MM_N (N; rows for mailmerge), MG_BENCH_PARALLEL (4), MG_BENCH_VENV
# ($MG_BENCH_DIR/venv), MG_BENCH_KEEP=1 leaves Postfix running.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=${MG_BENCH_DIR:-/tmp/mergeguard-bench}
case $D in /*) ;; *) D=$(pwd)/$D ;; esac
P_STARTTLS=${MG_BENCH_STARTTLS_PORT:-2725}
P_TLS=${MG_BENCH_TLS_PORT:-2765}
P_PLAIN=${MG_BENCH_PLAIN_PORT:-2726}
N=${MG_BENCH_N:-2000}
MM_N=${MG_BENCH_MM_N:-$N}
PARALLEL=${MG_BENCH_PARALLEL:-4}
VENV=${MG_BENCH_VENV:-$D/venv}
USER_NAME=mailer
PASSWORD=secret
PF=$D/postfix
E=$PF/etc
MD=$D/maildir/new

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pf_running() { [ -f "$E/main.cf" ] && postfix -c "$E" status >/dev/null 2>&1; }
now() { date +%s.%N; }

pf_start() {
    if pf_running; then return 0; fi
    for p in $P_STARTTLS $P_TLS $P_PLAIN; do
        if port_open "$p"; then echo "bench-send: port $p is taken; set MG_BENCH_*_PORT" >&2; exit 1; fi
    done
    MG_TEST_DIR=$D "$ROOT/tests/servers/certs.sh"
    mkdir -p "$E/sasl" "$PF/spool" "$PF/data" "$D/maildir/new" "$D/maildir/cur" "$D/maildir/tmp"
    chown postfix:postfix "$PF/data"
    chown -R 65534:65534 "$D/maildir"
    local S=$ROOT/tests/servers/postfix
    sed "s|@DIR@|$D|g" "$S/main.cf.in" > "$E/main.cf"
    sed -e "s|@DIR@|$D|g" -e "s|^127.0.0.1:2525 |127.0.0.1:$P_STARTTLS |" \
        -e "s|^127.0.0.1:2465 |127.0.0.1:$P_TLS |" -e "s|^127.0.0.1:2526 |127.0.0.1:$P_PLAIN |" \
        "$S/master.cf.in" > "$E/master.cf"
    sed "s|@DIR@|$D|g" "$S/smtpd.conf.in" > "$E/sasl/smtpd.conf"
    rm -f "$PF/sasldb2"
    printf '%s' "$PASSWORD" | saslpasswd2 -f "$PF/sasldb2" -p -c -u mail.test "$USER_NAME"
    chown root:postfix "$PF/sasldb2"; chmod 640 "$PF/sasldb2"
    touch /etc/postfix/main.cf
    local alt
    alt=$(sed -n 's/^alternate_config_directories[[:space:]]*=[[:space:]]*//p' /etc/postfix/main.cf | tail -n 1)
    case " ${alt//,/ } " in *" $E "*) ;; *) postconf -c /etc/postfix -e "alternate_config_directories = ${alt:+$alt, }$E" ;; esac
    postfix -c "$E" start >/dev/null 2>&1 || { tail -n 20 "$PF/maillog" >&2; exit 1; }
    for p in $P_STARTTLS $P_TLS $P_PLAIN; do
        local i=0
        until port_open "$p"; do i=$((i + 1)); [ $i -lt 200 ] || { echo "port $p did not open" >&2; exit 1; }; sleep 0.05; done
    done
}
pf_stop() { if pf_running; then postfix -c "$E" stop >/dev/null 2>&1 || true; fi; }

# Waits until `want` more files than `before` are in the maildir (delivery lags acceptance).
wait_maildir() {
    local before=$1 want=$2 i=0
    while [ $(( $(ls "$MD" | wc -l) - before )) -lt "$want" ]; do
        i=$((i + 1)); [ $i -lt 3000 ] || { echo "bench-send: maildir short of $want messages" >&2; return 1; }
        sleep 0.02
    done
}

[ "${1:-}" = start ] && { pf_start; echo "bench Postfix on 127.0.0.1:$P_STARTTLS (STARTTLS+AUTH), :$P_TLS, :$P_PLAIN; dir $D"; exit 0; }
[ "${1:-}" = stop ] && { pf_stop; exit 0; }

W=$(mktemp -d)
cleanup() { rm -rf "$W"; [ "${MG_BENCH_KEEP:-0}" = 1 ] || pf_stop; }
trap cleanup EXIT

# Build first (slow on 2 cores), so the timed part measures sending only.
(cd "$ROOT" && cargo bench -q -p mergeguard --bench send --no-run 2>&1 | grep -v '^ *Executable' >&2) || true
BENCH=$(cd "$ROOT" && cargo bench -p mergeguard --bench send --no-run --message-format=json 2>/dev/null \
    | grep '"kind":\["bench"\]' | grep '"name":"send"' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[ -x "$BENCH" ] || { echo "bench-send: could not build benches/send.rs" >&2; exit 1; }
if [ ! -x "$VENV/bin/mailmerge" ]; then
    python3 -m venv "$VENV" && "$VENV/bin/pip" install -q mailmerge==2.3.0 >&2
fi

pf_start
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -sr); load $(cut -d' ' -f1-3 /proc/loadavg); $(date -u +%FT%TZ)"
echo "relay: Postfix $(postconf -d -h mail_version 2>/dev/null) on 127.0.0.1:$P_STARTTLS (STARTTLS+AUTH), plain :$P_PLAIN; N=$N"

# (a) MergeGuard.
before=$(ls "$MD" | wc -l)
out=$(MG_TEST_SMTP_STARTTLS=127.0.0.1:$P_STARTTLS MG_TEST_CA=$D/certs/ca.crt MG_TEST_SMTP_USER=$USER_NAME \
    MG_TEST_SMTP_PASSWORD=$PASSWORD MG_BENCH_N=$N MG_BENCH_PARALLEL=$PARALLEL "$BENCH" --bench)
echo "$out"
mg=$(echo "$out" | sed -n 's/.*-> \([0-9.]*\) msg\/s.*/\1/p' | sort -n | tail -n 1)
wait_maildir "$before" "$N"

# (a2) MergeGuard over implicit TLS (the port-465 style), for reference: not in the ratios,
# since the peers use STARTTLS or plain text.
before=$(ls "$MD" | wc -l)
MG_TEST_SMTP_TLS=127.0.0.1:$P_TLS MG_BENCH_SECURITY=tls MG_TEST_CA=$D/certs/ca.crt MG_TEST_SMTP_USER=$USER_NAME \
    MG_TEST_SMTP_PASSWORD=$PASSWORD MG_BENCH_N=$N MG_BENCH_PARALLEL=$PARALLEL "$BENCH" --bench
wait_maildir "$before" "$N"

# (b) smtp-source, 4 sessions, 1 KiB messages (about MergeGuard's message size).
before=$(ls "$MD" | wc -l)
s=$(now)
smtp-source -d -s 4 -m "$N" -l 1024 -N -f news@shop.test -t rcpt@example.test "127.0.0.1:$P_PLAIN"
e=$(now)
ss=$(echo "$N/($e-$s)" | bc -l)
printf 'smtp-source -s 4 -m %d -l 1024 (plain port): wall=%.2fs -> %.1f msg/s\n' "$N" "$(echo "$e-$s" | bc)" "$ss"
wait_maildir "$before" "$N"

# (c) Python mailmerge 2.3.0 over STARTTLS+AUTH, MM_N personalised rows.
{ echo email,name; for i in $(seq 1 "$MM_N"); do echo "customer$i@example.test,Customer $i"; done; } > "$W/db.csv"
printf 'TO: {{email}}\nFROM: news@shop.test\nSUBJECT: Autumn news for {{name}}\n\nDear {{name}},\n%s\n' \
    "$(printf 'Our autumn catalogue is out; this line pads the message to about one KiB. %.0s' $(seq 12))" > "$W/template.txt"
printf '[smtp_server]\nhost = 127.0.0.1\nport = %s\nsecurity = STARTTLS\nusername = %s\n' "$P_STARTTLS" "$USER_NAME" > "$W/server.conf"
before=$(ls "$MD" | wc -l)
s=$(now)
(cd "$W" && echo "$PASSWORD" | SSL_CERT_FILE=$D/certs/ca.crt "$VENV/bin/mailmerge" --no-dry-run --no-limit \
    --template template.txt --database db.csv --config server.conf --output-format raw > mm.log 2>&1) || true
e=$(now)
sent=$(grep -c '^>>> message [0-9]* sent' "$W/mm.log" || true)
[ "$sent" = "$MM_N" ] || { echo "mailmerge sent $sent of $MM_N; last lines:" >&2; tail -n 5 "$W/mm.log" >&2; }
mm=$(echo "$sent/($e-$s)" | bc -l)
printf 'mailmerge 2.3.0 (STARTTLS+AUTH, new connection per message): N=%d sent=%d wall=%.2fs -> %.1f msg/s\n' \
    "$MM_N" "$sent" "$(echo "$e-$s" | bc)" "$mm"
wait_maildir "$before" "$sent"

printf 'ratio MergeGuard/smtp-source = %.2f (target >= 0.80)\n' "$(echo "$mg/$ss" | bc -l)"
printf 'ratio MergeGuard/mailmerge   = %.1fx (target >= 5x)\n' "$(echo "$mg/$mm" | bc -l)"
