#!/bin/sh
# Runs a command inside a private D-Bus session with an unlocked GNOME Keyring (a real
# Secret Service), for tests/keychain.rs:
#   tests/servers/keyring-session.sh cargo test -p mergeguard --test keychain
# State lives in a fresh folder $MG_TEST_DIR/keyring.XXXXXX (HOME of the keyring) per
# call, so parallel runs never share (and corrupt) one keyring file; nothing outside it
# is touched, and the session's daemons end with the command.
set -eu
if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi
for tool in dbus-run-session gnome-keyring-daemon; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "$0: $tool is missing (apt-get install -y --no-install-recommends gnome-keyring dbus)" >&2
        exit 1
    }
done
MG_TEST_DIR=${MG_TEST_DIR:-/tmp/mergeguard-test}
mkdir -p "$MG_TEST_DIR"
T=$(mktemp -d "$MG_TEST_DIR/keyring.XXXXXX")
mkdir -p "$T/run"
chmod 700 "$T/run"
# HOME moves to $T so the keyring files stay there; keep cargo and rustup where they are.
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
export HOME="$T" XDG_RUNTIME_DIR="$T/run" MG_TEST_KEYRING=1 MG_TEST_DIR
# Unlocking with a known password makes writes work headless (without it the Secret
# Service answers "result not returned"). The daemon exits when the session bus closes.
exec dbus-run-session -- sh -c '
    eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"
    exec "$@"
' sh "$@"
