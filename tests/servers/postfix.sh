#!/bin/bash
# Private Postfix instance for the tests:  postfix.sh start|stop|status
#   127.0.0.1:2525  STARTTLS required, then AUTH (PLAIN/LOGIN)   MG_TEST_SMTP_STARTTLS
#   127.0.0.1:2465  implicit TLS, then AUTH                      MG_TEST_SMTP_TLS
#   127.0.0.1:2526  plain text, no AUTH (benchmarks only)        MG_TEST_SMTP_PLAIN
# Config, queue and logs under $MG_TEST_DIR/postfix, mail under $MG_TEST_DIR/maildir/new
# (one file per message). SASL login `mailer`, password `secret` (MG_TEST_SMTP_USER /
# MG_TEST_SMTP_PASSWORD override both at start). Only ever touches its own instance.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
D=${MG_TEST_DIR:-/tmp/mergeguard-test}
case $D in /*) ;; *) D=$(pwd)/$D ;; esac   # postfix -c needs an absolute path
P=$D/postfix
E=$P/etc
USER_NAME=${MG_TEST_SMTP_USER:-mailer}
PASSWORD=${MG_TEST_SMTP_PASSWORD:-secret}
PORTS="2525 2465 2526"

running() { [ -f "$E/main.cf" ] && postfix -c "$E" status >/dev/null 2>&1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_ports() {
    local p i
    for p in $PORTS; do
        i=0
        until port_open "$p"; do
            i=$((i + 1))
            if [ $i -gt 200 ]; then
                echo "postfix.sh: port $p did not open within 10 s; see $P/maillog" >&2
                exit 1
            fi
            sleep 0.05
        done
    done
}

render() { sed "s|@DIR@|$D|g" "$HERE/postfix/$1.in" > "$2"; }

start() {
    if running; then
        wait_ports
        echo "postfix.sh: already running ($E)"
        return 0
    fi
    for p in $PORTS; do
        if port_open "$p"; then
            echo "postfix.sh: port $p is taken by another process; not starting" >&2
            exit 1
        fi
    done
    "$HERE/certs.sh"
    mkdir -p "$E/sasl" "$P/spool" "$P/data" "$D/maildir/new" "$D/maildir/cur" "$D/maildir/tmp"
    chown postfix:postfix "$P/data"
    chown -R 65534:65534 "$D/maildir"
    render main.cf "$E/main.cf"
    render master.cf "$E/master.cf"
    render smtpd.conf "$E/sasl/smtpd.conf"
    # A fresh sasldb2 each start, so a changed password takes effect.
    rm -f "$P/sasldb2"
    printf '%s' "$PASSWORD" | saslpasswd2 -f "$P/sasldb2" -p -c -u mail.test "$USER_NAME"
    chown root:postfix "$P/sasldb2"
    chmod 640 "$P/sasldb2"
    # The set-gid helpers (postdrop, postqueue) only accept a -c directory that the
    # default main.cf lists; add ours without dropping anyone else's.
    touch /etc/postfix/main.cf
    local alt
    # Read the file directly: postconf takes over a second here (it resolves the host
    # name for its defaults), and start must stay fast.
    alt=$(sed -n 's/^alternate_config_directories[[:space:]]*=[[:space:]]*//p' /etc/postfix/main.cf | tail -n 1)
    case " ${alt//,/ } " in
        *" $E "*) ;;
        *) postconf -c /etc/postfix -e "alternate_config_directories = ${alt:+$alt, }$E" ;;
    esac
    postfix -c "$E" start >/dev/null 2>&1 || {
        echo "postfix.sh: postfix failed to start; last lines of $P/maillog:" >&2
        tail -n 20 "$P/maillog" >&2 2>/dev/null || true
        exit 1
    }
    wait_ports
    echo "postfix.sh: running on 127.0.0.1:2525 (STARTTLS+AUTH), :2465 (TLS+AUTH), :2526 (plain); mail in $D/maildir/new"
}

stop() {
    if ! running; then
        echo "postfix.sh: not running"
        return 0
    fi
    postfix -c "$E" stop >/dev/null 2>&1 || true
    local i=0
    while running && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    echo "postfix.sh: stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) if running; then echo "running"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
