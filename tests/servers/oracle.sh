#!/bin/bash
# Builds the Python venv of checkdmarc, the independent oracle that tests/dmarc_oracle.rs
# compares the SPF and DMARC verdicts with. Idempotent: rebuilt only when
# oracle-requirements.txt (every package pinned) changes. No server is started.
#   tests/servers/oracle.sh          # venv at $MG_TEST_DIR/oracle-venv
# It is a separate venv from faults.sh's so that changing either set of pins never
# rebuilds the other while its server runs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
D=${MG_TEST_DIR:-/tmp/mergeguard-test}
case $D in /*) ;; *) D=$(pwd)/$D ;; esac
V=$D/oracle-venv
REQ=$HERE/oracle-requirements.txt

if [ -x "$V/bin/python" ] && cmp -s "$REQ" "$V/requirements.installed"; then
    echo "oracle: checkdmarc venv up to date at $V"
    exit 0
fi
mkdir -p "$D"
rm -rf "$V"
python3 -m venv "$V"
"$V/bin/pip" install -q --disable-pip-version-check -r "$REQ"
cp "$REQ" "$V/requirements.installed"
echo "oracle: checkdmarc $("$V/bin/python" -c 'import checkdmarc; print(checkdmarc.__version__)') installed at $V"
