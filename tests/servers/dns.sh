#!/bin/bash
# Starts or stops the private Knot DNS server the pre-flight DNS tests run against.
#   tests/servers/dns.sh start   # idempotent; refuses if the port is held by anything else
#   tests/servers/dns.sh stop    # stops only the knotd this script started
# Listens on $MG_TEST_DNS (default 127.0.0.1:5353), UDP and TCP. State (config, zones,
# pid, log) lives under $MG_TEST_DIR/dns (default /tmp/mergeguard-test/dns).
# The zones are built from tests/servers/dns/*.in and the committed test keys in
# tests/data/dkim, so the published DKIM records always match the keys the tests load.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KEYS=$ROOT/tests/data/dkim
BASE=${MG_TEST_DIR:-/tmp/mergeguard-test}
DIR=$BASE/dns
ADDR=${MG_TEST_DNS:-127.0.0.1:5353}
HOST=${ADDR%:*}
PORT=${ADDR##*:}
CONF=$DIR/knot.conf
PIDFILE=$DIR/run/knot.pid

die() { echo "dns.sh: $*" >&2; exit 1; }

# True when the knotd recorded in our pid file is alive and is really knotd with our config.
ours_running() {
    [ -f "$PIDFILE" ] || return 1
    local pid; pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "knotd -c $CONF"
}

port_busy() {
    [ -n "$(ss -Hlnu "sport = :$PORT")$(ss -Hlnt "sport = :$PORT")" ]
}

# Base64 of the key the DKIM record publishes: SubjectPublicKeyInfo DER for RSA, the raw
# 32-byte key for Ed25519 (RFC 8463).
rsa_p() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0; }
ed_p()  { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0; }
# A TXT value as zone-file character-strings of at most 255 bytes each.
txt_split() {
    local s=$1 out=""
    while [ -n "$s" ]; do out="$out \"${s:0:255}\""; s=${s:255}; done
    echo "($out )"
}

build_zones() {
    mkdir -p "$DIR/zones" "$DIR/run" "$DIR/db"
    local rsa2048 rsa1024 rsa512 ed sha1 testing
    rsa2048=$(txt_split "v=DKIM1; k=rsa; p=$(rsa_p "$KEYS/rsa2048.pem")")
    rsa1024=$(txt_split "v=DKIM1; k=rsa; p=$(rsa_p "$KEYS/rsa1024.pem")")
    rsa512=$(txt_split "v=DKIM1; k=rsa; p=$(rsa_p "$KEYS/rsa512.pem")")
    sha1=$(txt_split "v=DKIM1; k=rsa; h=sha1; p=$(rsa_p "$KEYS/rsa2048.pem")")
    testing=$(txt_split "v=DKIM1; k=rsa; t=y; p=$(rsa_p "$KEYS/rsa2048.pem")")
    ed="\"v=DKIM1; k=ed25519; p=$(ed_p "$KEYS/ed25519.pem")\""
    sed -e "s|@RSA2048@|$rsa2048|" -e "s|@RSA1024@|$rsa1024|" -e "s|@RSA512@|$rsa512|" \
        -e "s|@RSA2048_SHA1@|$sha1|" -e "s|@RSA2048_TESTING@|$testing|" -e "s|@ED25519@|$ed|" \
        "$HERE/dns/test.zone.in" > "$DIR/zones/test.zone"
    cp "$HERE/dns/reverse.zone" "$DIR/zones/reverse.zone"
    sed -e "s|@DIR@|$DIR|g" -e "s|@LISTEN@|$HOST@$PORT|" "$HERE/dns/knot.conf.in" > "$CONF"
    knotc -c "$CONF" conf-check >/dev/null
}

start() {
    if ours_running; then
        echo "dns: already running (pid $(cat "$PIDFILE")), listening on $HOST:$PORT udp+tcp"
        return 0
    fi
    if port_busy; then
        die "port $PORT is already in use by another process; not starting (set MG_TEST_DNS to use another port)"
    fi
    build_zones
    rm -f "$PIDFILE"
    knotd -c "$CONF" -d
    # knotd daemonises at once; wait until it answers so tests never race it.
    for _ in $(seq 1 50); do
        if dig +short +time=1 +tries=1 @"$HOST" -p "$PORT" SOA test. >/dev/null 2>&1 \
            && [ -n "$(dig +short +time=1 +tries=1 @"$HOST" -p "$PORT" SOA test.)" ]; then
            echo "dns: knotd started (pid $(cat "$PIDFILE")), listening on $HOST:$PORT udp+tcp; state in $DIR"
            return 0
        fi
        sleep 0.1
    done
    die "knotd did not answer on $HOST:$PORT within 5 s; see $DIR/knot.log"
}

stop() {
    if ours_running; then
        knotc -c "$CONF" stop >/dev/null
        for _ in $(seq 1 50); do ours_running || break; sleep 0.1; done
        echo "dns: stopped"
    else
        echo "dns: not running"
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
