#!/bin/bash
# The mailbox servers of the integration tests (issue 15), on loopback:
#   oidc-provider  https://127.0.0.1:3100   OAuth2 server: device flow, PKCE, refresh, revocation, introspection
#   Dovecot        3143 IMAP+STARTTLS (use 127.0.0.2), 3193 IMAPS    XOAUTH2/OAUTHBEARER, PLAIN for bob
#   Postfix        3125 submission STARTTLS, 3165 submissions, 3126 inbound (no AUTH, plays the MX)
#   tests/servers/mailbox.sh start|stop
# Taken from the tested recipe ../shared/recipes/oauth-mailbox (its README explains every
# value); ports 31xx do not clash with postfix.sh (2525/2465/2526), dns.sh (5353) or
# faults.sh (2601-2609). State, configs, logs and mail under $MG_TEST_DIR/mailbox; the
# endpoints are written to $MG_TEST_DIR/mailbox/env for the tests. Packages come from
# scripts/install-deps.sh --with-tests. oidc-provider needs node >= 20 (Debian 12 ships
# 18): when the node on the PATH is older or missing, the one install-deps.sh puts in
# $MG_NODE_DIR (default ~/.cache/mergeguard/node) goes first on the PATH. The pinned npm
# packages are installed with `npm ci` into the state folder. Touches no file under /etc
# and no other instance; stop kills by pid file only, after checking the process name.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)/mailbox
MG_TEST_DIR=${MG_TEST_DIR:-/tmp/mergeguard-test}
D=$MG_TEST_DIR/mailbox
case $D in /*) ;; *) D=$(pwd)/$D ;; esac   # postfix -c and dovecot -c need absolute paths
TTL=${MG_MAILBOX_TOKEN_TTL:-60}             # access-token lifetime, seconds
AUTH_DEBUG=${MG_MAILBOX_AUTH_DEBUG:-no}     # yes: Dovecot logs each introspection
IDP_PORT=3100 IMAP_PORT=3143 IMAPS_PORT=3193 SUBMISSION_PORT=3125 SUBMISSIONS_PORT=3165 MX_PORT=3126
CLIENT_ID=mail-client INTROSPECT_ID=dovecot INTROSPECT_SECRET=dovecot-secret
USER1=alice@mail.test PASS1=alice-secret   # IdP login; IMAP/SMTP only with a token
USER2=bob@mail.test PASS2=bob-secret       # IdP login; also IMAP/SMTP PLAIN/LOGIN password
START_NS=$(date +%s%N)

say() { echo "mailbox.sh: $*"; }
die() { echo "mailbox.sh: $*" >&2; exit 1; }
port_open() { (exec 3<>"/dev/tcp/${2:-127.0.0.1}/$1") 2>/dev/null; }   # PORT [HOST]
wait_port() {   # PORT WHAT LOG [HOST]
    local i=0
    until port_open "$1" "${4:-127.0.0.1}"; do
        i=$((i + 1))
        [ $i -le 400 ] || die "$2: port $1 did not open within 20 s; see $3"
        sleep 0.05
    done
}
ports_free() {  # WHAT PORT...
    local what=$1 p h; shift
    for p in "$@"; do
        for h in 127.0.0.1 127.0.0.2; do
            if port_open "$p" $h; then die "$what: $h:$p is taken by another process; not starting"; fi
        done
    done
}
alive() {       # PIDFILE COMM: the process in PIDFILE runs and is named COMM
    local pid
    [ -s "$1" ] && read -r pid < "$1" && [ -n "$pid" ] &&
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}
render() {      # TEMPLATE OUT
    sed -e "s|@DIR@|$D|g" -e "s|@IDP_PORT@|$IDP_PORT|g" -e "s|@IMAP_PORT@|$IMAP_PORT|g" \
        -e "s|@IMAPS_PORT@|$IMAPS_PORT|g" -e "s|@SUBMISSION_PORT@|$SUBMISSION_PORT|g" \
        -e "s|@SUBMISSIONS_PORT@|$SUBMISSIONS_PORT|g" -e "s|@MX_PORT@|$MX_PORT|g" \
        -e "s|@INTROSPECT_ID@|$INTROSPECT_ID|g" -e "s|@INTROSPECT_SECRET@|$INTROSPECT_SECRET|g" \
        -e "s|@AUTH_DEBUG@|$AUTH_DEBUG|g" "$HERE/conf/$1" > "$2"
}

NODE_MIN=20
NODE_DIR=${MG_NODE_DIR:-$HOME/.cache/mergeguard/node}
node_major() {  # NODE: its major version, 0 when it does not run
    local v
    v=$("$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || v=0
    case $v in ''|*[!0-9]*) echo 0 ;; *) echo "$v" ;; esac
}
need_node() {   # node >= NODE_MIN and npm on the PATH, else one line saying what to install
    local found=none
    if command -v node >/dev/null; then found="$(node_major node) at $(command -v node)"; fi
    if ! command -v node >/dev/null || [ "$(node_major node)" -lt $NODE_MIN ]; then
        if [ -x "$NODE_DIR/bin/node" ] && [ "$(node_major "$NODE_DIR/bin/node")" -ge $NODE_MIN ]; then
            PATH=$NODE_DIR/bin:$PATH
            export PATH
        fi
    fi
    if ! command -v node >/dev/null || [ "$(node_major node)" -lt $NODE_MIN ] ||
        ! command -v npm >/dev/null; then
        die "node >= $NODE_MIN with npm is needed for oidc-provider (found node $found); install it with scripts/install-deps.sh --with-tests (Node.js $NODE_MIN from the npm registry into $NODE_DIR) or from nodejs.org"
    fi
}

check_packages() {
    local missing="" p
    for p in dovecot-core dovecot-imapd dovecot-lmtpd postfix openssl; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
    done
    [ -z "$missing" ] || die "missing Debian packages:$missing (run scripts/install-deps.sh --with-tests)"
}

make_certs() {  # test CA + server certificate (SAN localhost, mail.test, 127.0.0.1, 127.0.0.2)
    local C=$D/certs
    if [ -s "$C/ca.crt" ] && [ -s "$C/server.key" ] && [ -s "$C/server-chain.crt" ] &&
        openssl x509 -checkend 86400 -noout -in "$C/server.crt" >/dev/null 2>&1 &&
        openssl x509 -noout -ext subjectAltName -in "$C/server.crt" | grep -q 127.0.0.2; then
        return 0
    fi
    mkdir -p "$C"
    local W
    W=$(mktemp -d "$C/.build.XXXXXX")
    (
        cd "$W"
        q() { "$@" >/dev/null 2>&1 || { echo "mailbox.sh: failed: $*" >&2; exit 1; }; }
        q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 3650 \
            -subj "/CN=MergeGuard mailbox test CA" \
            -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
        printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
            "extendedKeyUsage=serverAuth" "subjectKeyIdentifier=hash" "authorityKeyIdentifier=keyid,issuer" \
            "subjectAltName=DNS:localhost,DNS:mail.test,IP:127.0.0.1,IP:127.0.0.2" > server.ext
        q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=mail.test"
        q openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
            -extfile server.ext -out server.crt
        cat server.crt ca.crt > server-chain.crt
        chmod 644 ./*.crt
        chmod 600 ./*.key
        mv -f ca.crt ca.key server.crt server.key server-chain.crt "$C/"
    )
    rm -rf "$W"
}

start_idp() {
    local I=$D/idp
    if alive "$I/idp.pid" node && port_open $IDP_PORT; then say "idp already running"; return 0; fi
    ports_free idp $IDP_PORT
    mkdir -p "$I"
    cp "$HERE/idp.mjs" "$HERE/package.json" "$HERE/package-lock.json" "$I/"
    if ! cmp -s "$I/package-lock.json" "$I/node_modules/.recipe-lock" 2>/dev/null; then
        (cd "$I" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci failed in $I"
        cp "$I/package-lock.json" "$I/node_modules/.recipe-lock"
    fi
    (
        cd "$I"
        export IDP_PORT IDP_TOKEN_TTL=$TTL IDP_CLIENT_ID=$CLIENT_ID IDP_INTROSPECT_ID=$INTROSPECT_ID \
            IDP_INTROSPECT_SECRET=$INTROSPECT_SECRET IDP_ACCOUNTS="$USER1:$PASS1 $USER2:$PASS2" \
            IDP_TLS_KEY=$D/certs/server.key IDP_TLS_CERT=$D/certs/server-chain.crt
        # The pid file is written by the process that becomes node (setsid forks when
        # the caller leads its process group, e.g. under `set -m`, so $! would be wrong).
        rm -f idp.pid
        exec setsid sh -c 'echo $$ > idp.pid; exec node idp.mjs' >> idp.log 2>&1 < /dev/null
    ) &
    local j=0
    until alive "$I/idp.pid" node; do
        j=$((j + 1)); [ $j -le 200 ] || die "idp did not start; see $I/idp.log"
        sleep 0.05
    done
    local i=0
    until port_open $IDP_PORT; do
        alive "$I/idp.pid" node || die "idp exited; see $I/idp.log"
        i=$((i + 1)); [ $i -le 400 ] || die "idp: port $IDP_PORT did not open within 20 s; see $I/idp.log"
        sleep 0.05
    done
}

start_dovecot() {
    local V=$D/dovecot
    if alive "$V/run/master.pid" dovecot; then say "dovecot already running"; return 0; fi
    ports_free dovecot $IMAP_PORT $IMAPS_PORT
    mkdir -p "$V/run" "$V/state"
    render dovecot.conf.in "$V/dovecot.conf"
    render oauth2.conf.ext.in "$V/oauth2.conf.ext"
    local u home users=""
    for u in $USER1 $USER2; do
        home=$D/mail/${u%@*}
        mkdir -p "$home"
        users="$users$u::65534:65534::$home::"$'\n'
    done
    printf '%s' "$users" > "$V/users"
    printf '%s:{PLAIN}%s\n' "$USER2" "$PASS2" > "$V/passwd"
    chown root:dovecot "$V/users" "$V/passwd" "$V/oauth2.conf.ext"
    chmod 640 "$V/users" "$V/passwd" "$V/oauth2.conf.ext"
    chown -R 65534:65534 "$D/mail"
    # Startup errors go to stderr; keep none of our stdio open in the daemon.
    dovecot -c "$V/dovecot.conf" < /dev/null > /dev/null 2> "$V/start.err" || {
        cat "$V/start.err" >&2
        die "dovecot did not start; see $V/dovecot.log"
    }
    wait_port $IMAP_PORT dovecot "$V/dovecot.log"
    wait_port $IMAPS_PORT dovecot "$V/dovecot.log"
    wait_port $IMAP_PORT dovecot "$V/dovecot.log" 127.0.0.2
    local i=0
    until [ -S "$V/run/auth-postfix" ] && [ -S "$V/run/lmtp" ]; do
        i=$((i + 1)); [ $i -le 200 ] || die "dovecot: no auth/lmtp socket; see $V/dovecot.log"
        sleep 0.05
    done
}

start_postfix() {
    local P=$D/postfix
    if alive "$P/spool/pid/master.pid" master; then say "postfix already running"; return 0; fi
    ports_free postfix $SUBMISSION_PORT $SUBMISSIONS_PORT $MX_PORT
    mkdir -p "$P/etc" "$P/spool" "$P/data" "$D/outbound/new" "$D/outbound/cur" "$D/outbound/tmp"
    chown postfix:postfix "$P/data"
    chown -R 65534:65534 "$D/outbound"
    render main.cf.in "$P/etc/main.cf"
    render master.cf.in "$P/etc/master.cf"
    postfix -c "$P/etc" start >/dev/null 2>&1 || {
        tail -n 20 "$P/maillog" >&2 2>/dev/null || true
        die "postfix did not start; see $P/maillog"
    }
    wait_port $SUBMISSION_PORT postfix "$P/maillog"
    wait_port $SUBMISSIONS_PORT postfix "$P/maillog"
    wait_port $MX_PORT postfix "$P/maillog"
}

stop_one() {    # NAME PIDFILE COMM
    local pid i=0
    if ! { [ -s "$2" ] && read -r pid < "$2" && [ -n "$pid" ] &&
        [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$3" ]; }; then
        echo "mailbox.sh: $1 not running"
        return 0
    fi
    kill -TERM "$pid"
    while [ -d "/proc/$pid" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    if [ -d "/proc/$pid" ]; then
        echo "mailbox.sh: $1 (pid $pid) still running after 10 s" >&2
        return 1
    fi
    rm -f "$2"
    echo "mailbox.sh: $1 stopped (pid $pid)"
}

do_stop() {
    local rc=0
    stop_one postfix "$D/postfix/spool/pid/master.pid" master || rc=1
    stop_one dovecot "$D/dovecot/run/master.pid" dovecot || rc=1
    stop_one idp "$D/idp/idp.pid" node || rc=1
    return $rc
}

do_start() {
need_node
check_packages
mkdir -p "$D"
chmod 755 "$D"
make_certs
start_idp
start_dovecot
start_postfix

I=https://127.0.0.1:$IDP_PORT
cat > "$D/env" <<EOF
# Written by tests/servers/mailbox.sh; shell syntax, read by the Rust tests (tests/common_mailbox).
OAUTH_MAILBOX_DIR=$D
OAUTH_MAILBOX_CA=$D/certs/ca.crt
OAUTH_MAILBOX_ISSUER=$I
OAUTH_MAILBOX_DEVICE_AUTH_URL=$I/device/auth
OAUTH_MAILBOX_VERIFICATION_URL=$I/device
OAUTH_MAILBOX_AUTH_URL=$I/auth
OAUTH_MAILBOX_TOKEN_URL=$I/token
OAUTH_MAILBOX_REVOCATION_URL=$I/token/revocation
OAUTH_MAILBOX_INTROSPECTION_URL=$I/token/introspection
OAUTH_MAILBOX_CLIENT_ID=$CLIENT_ID
OAUTH_MAILBOX_SCOPE='offline_access mail'
OAUTH_MAILBOX_INTROSPECT_ID=$INTROSPECT_ID
OAUTH_MAILBOX_INTROSPECT_SECRET=$INTROSPECT_SECRET
OAUTH_MAILBOX_TOKEN_TTL=$TTL
OAUTH_MAILBOX_IMAP=127.0.0.2:$IMAP_PORT
OAUTH_MAILBOX_IMAPS=127.0.0.1:$IMAPS_PORT
OAUTH_MAILBOX_SUBMISSION=127.0.0.1:$SUBMISSION_PORT
OAUTH_MAILBOX_SUBMISSIONS=127.0.0.1:$SUBMISSIONS_PORT
OAUTH_MAILBOX_MX=127.0.0.1:$MX_PORT
OAUTH_MAILBOX_USER=$USER1
OAUTH_MAILBOX_PASSWORD=$PASS1
OAUTH_MAILBOX_USER2=$USER2
OAUTH_MAILBOX_PASSWORD2=$PASS2
OAUTH_MAILBOX_MAILDIR=$D/mail/${USER1%@*}/Maildir
OAUTH_MAILBOX_OUTBOUND=$D/outbound
EOF
ELAPSED_MS=$((($(date +%s%N) - START_NS) / 1000000))
cat <<EOF
mailbox servers running (state $D, started in ${ELAPSED_MS} ms):
  IdP (oidc-provider)  $I   discovery $I/.well-known/openid-configuration
    public client      $CLIENT_ID (no secret; device_code, refresh_token, authorization_code+PKCE)
    introspection      $INTROSPECT_ID / $INTROSPECT_SECRET
    scope              offline_access mail    access token TTL ${TTL}s
  IMAP (Dovecot)       127.0.0.2:$IMAP_PORT STARTTLS required, 127.0.0.1:$IMAPS_PORT TLS   XOAUTH2 OAUTHBEARER (+PLAIN/LOGIN for $USER2)
                       (127.0.0.1:$IMAP_PORT also answers, but there Dovecot allows AUTH without TLS)
  SMTP (Postfix)       127.0.0.1:$SUBMISSION_PORT STARTTLS+AUTH, 127.0.0.1:$SUBMISSIONS_PORT TLS+AUTH, 127.0.0.1:$MX_PORT inbound (no AUTH)
  CA                   $D/certs/ca.crt   (server cert: localhost, mail.test, 127.0.0.1, 127.0.0.2)
  users (IdP login)    $USER1 / $PASS1 (token only), $USER2 / $PASS2 (token or password)
  env for tests        $D/env
EOF
}

case "${1:-}" in
    start) do_start ;;
    stop) do_stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
