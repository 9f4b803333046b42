#!/bin/sh
# Generates the test-only DKIM key pairs used by tests/preflight_dns.rs and the zone
# template of tests/servers/dns.sh. Never use these keys for real mail: they are public.
# Run once; the PEMs are committed so the zone and the tests always agree.
set -eu
cd "$(dirname "$0")"
gen_rsa() { openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$2" -out "$1.pem" 2>/dev/null; }
gen_rsa rsa2048 2048      # PKCS#8 PEM ("BEGIN PRIVATE KEY")
gen_rsa rsa1024 1024
gen_rsa rsa512 512
gen_rsa mismatch 2048     # a second RSA-2048 key that is published nowhere
openssl genpkey -algorithm ED25519 -out ed25519.pem
# The same RSA-2048 key in the other encodings the loader accepts.
openssl rsa -in rsa2048.pem -traditional -out rsa2048-pkcs1.pem 2>/dev/null   # "BEGIN RSA PRIVATE KEY"
openssl pkcs8 -topk8 -nocrypt -in rsa2048.pem -outform DER -out rsa2048.der    # PKCS#8 DER
openssl rsa -in rsa2048.pem -traditional -outform DER -out rsa2048-pkcs1.der 2>/dev/null
openssl pkcs8 -topk8 -nocrypt -in ed25519.pem -outform DER -out ed25519.der
echo "keys written to $(pwd)"
