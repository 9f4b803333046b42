#!/bin/bash
# Fault-injection SMTP servers (faultsmtp.py, aiosmtpd):  faults.sh start|stop|status
# Ports MG_TEST_FAULT_BASE (2601) .. +8; see faultsmtp.py for what each one does.
# The Python venv lives at $MG_TEST_DIR/venv, built from requirements.txt (pinned) with pip;
# it is rebuilt only when requirements.txt changes. Stops only the process it started
# (pid file $MG_TEST_DIR/faults/faultsmtp.pid).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
D=${MG_TEST_DIR:-/tmp/mergeguard-test}
case $D in /*) ;; *) D=$(pwd)/$D ;; esac
export MG_TEST_DIR=$D
F=$D/faults
V=$D/venv
PIDFILE=$F/faultsmtp.pid
BASE=${MG_TEST_FAULT_BASE:-2601}
LAST=$((BASE + 8))

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

our_pid() {
    # The pid file names our process only while that process still runs faultsmtp.py.
    [ -f "$PIDFILE" ] || return 1
    local pid
    pid=$(cat "$PIDFILE")
    [ -n "$pid" ] && grep -qs faultsmtp.py "/proc/$pid/cmdline" && echo "$pid"
}

ensure_venv() {
    if [ -x "$V/bin/python" ] && cmp -s "$HERE/requirements.txt" "$V/requirements.installed"; then
        return 0
    fi
    python3 -m venv "$V"
    "$V/bin/pip" install -q --disable-pip-version-check -r "$HERE/requirements.txt"
    cp "$HERE/requirements.txt" "$V/requirements.installed"
}

start() {
    if our_pid >/dev/null; then
        echo "faults.sh: already running (pid $(cat "$PIDFILE"))"
        return 0
    fi
    local p
    for p in $(seq "$BASE" "$LAST"); do
        if port_open "$p"; then
            echo "faults.sh: port $p is taken by another process; not starting" >&2
            exit 1
        fi
    done
    "$HERE/certs.sh"
    ensure_venv
    mkdir -p "$F/accepted"
    # setsid: the server outlives the shell (and the job group) that started it.
    setsid "$V/bin/python" "$HERE/faultsmtp.py" >"$F/faultsmtp.log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$PIDFILE"
    local i=0
    until port_open "$LAST"; do
        i=$((i + 1))
        if [ $i -gt 200 ] || ! kill -0 "$pid" 2>/dev/null; then
            echo "faults.sh: faultsmtp did not start; see $F/faultsmtp.log" >&2
            tail -n 20 "$F/faultsmtp.log" >&2 || true
            exit 1
        fi
        sleep 0.05
    done
    echo "faults.sh: running on 127.0.0.1:$BASE-$LAST (pid $(cat "$PIDFILE")); state in $F"
}

stop() {
    local pid
    if ! pid=$(our_pid); then
        rm -f "$PIDFILE"
        echo "faults.sh: not running"
        return 0
    fi
    kill "$pid"
    local i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
    rm -f "$PIDFILE"
    echo "faults.sh: stopped"
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) if our_pid >/dev/null; then echo running; else echo stopped; exit 1; fi ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
