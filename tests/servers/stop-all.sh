#!/usr/bin/env bash
# Stops exactly the servers start-all.sh started (by their pid files, never by name).
here=$(cd "$(dirname "$0")" && pwd)
export MG_TEST_DIR=${MG_TEST_DIR:-/tmp/mergeguard-test}
bash "$here/mailbox.sh" stop || true
bash "$here/faults.sh" stop || true
bash "$here/postfix.sh" stop || true
bash "$here/dns.sh" stop || true
