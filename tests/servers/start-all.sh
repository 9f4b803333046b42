#!/usr/bin/env bash
# Starts every loopback server the integration tests use and prints the environment they
# read. Idempotent. State lives under $MG_TEST_DIR (default /tmp/mergeguard-test).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export MG_TEST_DIR=${MG_TEST_DIR:-/tmp/mergeguard-test}
bash "$here/certs.sh"
bash "$here/dns.sh" start
bash "$here/postfix.sh" start
bash "$here/faults.sh" start
bash "$here/mailbox.sh" start
bash "$here/oracle.sh"
bash "$here/axe.sh"
