#!/usr/bin/env python3
"""Fault-injection SMTP servers on loopback for MergeGuard's tests (aiosmtpd, one process).

Ports are MG_TEST_FAULT_BASE (default 2601) plus an offset:
  +0 2601  no STARTTLS; AUTH PLAIN/LOGIN offered in clear (a trap: a correct client
           never sends its password here)
  +1 2602  STARTTLS with a self-signed certificate
  +2 2603  STARTTLS with an expired certificate (chains to the test CA, names good)
  +3 2604  STARTTLS with a wrong-host certificate (chains to the test CA, SAN other.test)
  +4 2605  STARTTLS required (good certificate), then AUTH required; the recipient's
           local part picks the behaviour:
             tempfail1* 451 at RCPT the first time per address, accepted afterwards
             tempfail*  451 at RCPT, always          reject*   550 at RCPT
             shutdown*  421 at RCPT, then close       slow*     RCPT reply stalls 30 s
             data451*   451 after the final dot       data554*  554 after the final dot
             dropdata*  connection cut after the final dot, no reply
             anything else: 250, message stored
  +5 2606  accepts TCP and never says anything (a stalled server: no banner)
  +6 2607  STARTTLS (good certificate); AUTH offered before TLS as well as after
  +7 2608  STARTTLS (good certificate); no AUTH at all
  +8 2609  STARTTLS (good certificate) but only TLS 1.0/1.1
Login on every port: MG_TEST_SMTP_USER / MG_TEST_SMTP_PASSWORD (mailer / secret).

State under $MG_TEST_DIR/faults (default /tmp/mergeguard-test/faults):
  accepted/*.eml     every accepted message, exactly as received, one file each
  accepted.jsonl     one JSON line per accepted message: file, port, mail_from, rcpt_tos, login
  auth.log           one JSON line per AUTH command, written BEFORE it is processed:
                     {"event": "attempt", "port", "tls", "mechanism", "initial_response"}
                     and one per outcome: {"event": "result", "port", "tls", "login", "success"}
                     Passwords are never written. A test proves "no password sent in
                     clear" by finding no attempt line for its port.
"""
import asyncio
import json
import os
import signal
import ssl
import time
import warnings

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

STATE = os.environ.get("MG_TEST_DIR", "/tmp/mergeguard-test")
CERTS = os.path.join(STATE, "certs")
FAULTS = os.path.join(STATE, "faults")
ACCEPTED = os.path.join(FAULTS, "accepted")
BASE = int(os.environ.get("MG_TEST_FAULT_BASE", "2601"))
USER = os.environ.get("MG_TEST_SMTP_USER", "mailer").encode()
PASSWORD = os.environ.get("MG_TEST_SMTP_PASSWORD", "secret").encode()
SLOW_SECONDS = float(os.environ.get("MG_TEST_FAULT_SLOW_SECONDS", "30"))
HOST = "127.0.0.1"

os.makedirs(ACCEPTED, exist_ok=True)
_counter = 0
# Addresses that already got their one 451 (tempfail1*); forgotten on restart.
_tempfailed_once = set()


def append_json(name, record):
    record = {"time": time.time(), **record}
    with open(os.path.join(FAULTS, name), "a") as f:
        f.write(json.dumps(record) + "\n")


def tls_context(cert, legacy_only=False):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(f"{CERTS}/{cert}.crt", f"{CERTS}/{cert}.key")
    if legacy_only:
        # Deliberately obsolete: OpenSSL 3 refuses TLS < 1.2 at its default security level,
        # and Python warns that these versions are deprecated - which is the point here.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


class FaultSMTP(SMTP):
    """aiosmtpd's server, plus an audit line for every AUTH command it receives."""

    def __init__(self, handler, port, **kw):
        self.port = port
        super().__init__(handler, **kw)

    def over_tls(self):
        return self._tls_protocol is not None

    async def smtp_AUTH(self, arg):
        parts = (arg or "").split()
        append_json("auth.log", {
            "event": "attempt", "port": self.port, "tls": self.over_tls(),
            "mechanism": parts[0].upper() if parts else "",
            "initial_response": len(parts) > 1,
        })
        await super().smtp_AUTH(arg)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == USER and auth_data.password == PASSWORD)
    login = auth_data.login.decode("utf-8", "replace") if isinstance(auth_data, LoginPassword) else ""
    append_json("auth.log", {"event": "result", "port": server.port, "tls": server.over_tls(),
                             "login": login, "success": ok})
    return AuthResult(success=ok, handled=False, auth_data=auth_data)


class FaultHandler:
    def __init__(self, offer_auth=True):
        self.offer_auth = offer_auth

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if not self.offer_auth:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0].lower()
        if local.startswith("tempfail1"):
            key = address.lower()
            if key not in _tempfailed_once:
                _tempfailed_once.add(key)
                return "451 4.3.0 Temporary failure, try again later (test, first attempt)"
        elif local.startswith("tempfail"):
            return "451 4.3.0 Temporary failure, try again later (test)"
        if local.startswith("reject"):
            return "550 5.1.1 No such user (test)"
        if local.startswith("shutdown"):
            # push() writes the reply before this callback returns; close() then flushes it.
            asyncio.get_running_loop().call_soon(server.transport.close)
            return "421 4.3.2 Service shutting down, closing channel (test)"
        if local.startswith("slow"):
            await asyncio.sleep(SLOW_SECONDS)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        locals_ = [r.split("@")[0].lower() for r in envelope.rcpt_tos]
        if any(l.startswith("dropdata") for l in locals_):
            server.transport.abort()  # no reply at all after <CRLF>.<CRLF>
            return "250 never sent"
        if any(l.startswith("data451") for l in locals_):
            return "451 4.3.0 Temporary failure after DATA (test)"
        if any(l.startswith("data554") for l in locals_):
            return "554 5.7.1 Message rejected after DATA (test)"
        global _counter
        _counter += 1
        name = f"{time.time_ns()}-{os.getpid()}-{_counter}.eml"
        tmp = os.path.join(FAULTS, "." + name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(tmp, os.path.join(ACCEPTED, name))  # readers never see half a file
        login = session.login_data.decode("utf-8", "replace") if session.login_data else None
        append_json("accepted.jsonl", {"file": name, "port": server.port,
                                       "mail_from": envelope.mail_from,
                                       "rcpt_tos": envelope.rcpt_tos, "login": login})
        return f"250 2.0.0 OK queued as {name} (test)"


def factory(port, cert=None, require_tls=False, auth_in_clear=False, offer_auth=True,
            legacy_tls=False):
    ctx = tls_context(cert, legacy_tls) if cert else None

    def make():
        kw = dict(hostname="faults.test", ident="faultsmtp", authenticator=authenticator,
                  auth_require_tls=not auth_in_clear, auth_required=require_tls)
        if ctx:
            kw.update(tls_context=ctx, require_starttls=require_tls)
        return FaultSMTP(FaultHandler(offer_auth), port, **kw)
    return make


async def silent(reader, writer):
    # Hold the connection open without a banner until the client gives up.
    try:
        await asyncio.wait_for(reader.read(), timeout=600)
    except Exception:
        pass
    writer.close()


async def main():
    loop = asyncio.get_running_loop()
    specs = [
        (BASE + 0, dict(auth_in_clear=True)),
        (BASE + 1, dict(cert="selfsigned")),
        (BASE + 2, dict(cert="expired")),
        (BASE + 3, dict(cert="wrong")),
        (BASE + 4, dict(cert="server", require_tls=True)),
        (BASE + 6, dict(cert="server", auth_in_clear=True)),
        (BASE + 7, dict(cert="server", offer_auth=False)),
        (BASE + 8, dict(cert="server", legacy_tls=True)),
    ]
    servers = [await loop.create_server(factory(p, **kw), HOST, p) for p, kw in specs]
    servers.append(await asyncio.start_server(silent, HOST, BASE + 5))
    print("faultsmtp listening on", HOST, "ports", BASE, "to", BASE + 8, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
