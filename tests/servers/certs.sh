#!/bin/sh
# Test CA and server certificates for the loopback SMTP servers.
# Writes under $MG_TEST_DIR/certs (default /tmp/mergeguard-test/certs):
#   ca.crt/ca.key                 the test CA (trust it via MG_TEST_CA)
#   server.crt/.key, server-chain.crt   good: SAN DNS:localhost, DNS:mail.test, IP:127.0.0.1
#   wrong.crt/.key                chains to the CA, SAN DNS:other.test only (wrong host)
#   expired.crt/.key              chains to the CA, good names, valid only in January 2020
#   selfsigned.crt/.key           self-signed, good names, trusted by nobody
# Idempotent: does nothing when every file exists and the good certificate is valid for
# at least another 30 days; otherwise it regenerates the whole set (a new CA included),
# so a test never mixes certificates from two runs.
set -eu
D=${MG_TEST_DIR:-/tmp/mergeguard-test}/certs
FILES="ca.crt ca.key server.crt server.key server-chain.crt wrong.crt wrong.key expired.crt expired.key selfsigned.crt selfsigned.key"

complete() {
    for f in $FILES; do [ -s "$D/$f" ] || return 1; done
    openssl x509 -checkend 2592000 -noout -in "$D/server.crt" >/dev/null 2>&1
}
if complete; then exit 0; fi

mkdir -p "$D"
# Build in a scratch folder and move into place at the end: a half-written set must
# never be picked up by a server that starts concurrently.
W=$(mktemp -d "$D/.build.XXXXXX")
trap 'rm -rf "$W"' EXIT
cd "$W"
q() { "$@" >/dev/null 2>&1 || { echo "certs.sh: failed: $*" >&2; exit 1; }; }

q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
    -subj "/CN=MergeGuard test CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign"

cat > good.ext <<'X'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,DNS:mail.test,IP:127.0.0.1
X
cat > wrong.ext <<'X'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:other.test
X

q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=mail.test"
q openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile good.ext -out server.crt

q openssl req -newkey rsa:2048 -nodes -keyout wrong.key -out wrong.csr -subj "/CN=other.test"
q openssl x509 -req -in wrong.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
    -extfile wrong.ext -out wrong.crt

# `openssl x509 -req` on OpenSSL 3.0 cannot set explicit dates; `openssl ca` can.
mkdir -p db && : > db/index.txt && echo 1000 > db/serial
cat > ca.cnf <<'X'
[ca]
default_ca = test
[test]
dir = db
database = $dir/index.txt
serial = $dir/serial
new_certs_dir = $dir
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
X
q openssl req -newkey rsa:2048 -nodes -keyout expired.key -out expired.csr -subj "/CN=mail.test"
q openssl ca -batch -config ca.cnf -cert ca.crt -keyfile ca.key -in expired.csr -out expired.crt \
    -startdate 20200101000000Z -enddate 20200201000000Z -extfile good.ext -notext

q openssl req -x509 -newkey rsa:2048 -nodes -keyout selfsigned.key -out selfsigned.crt -days 825 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,DNS:mail.test,IP:127.0.0.1"

cat server.crt ca.crt > server-chain.crt
chmod 644 ./*.crt
chmod 600 ./*.key
for f in $FILES; do mv -f "$f" "$D/$f"; done
echo "certs.sh: test certificates written to $D"
