#!/usr/bin/env python3
"""Smoke test of the committed test servers with a strict client (Python's smtplib + ssl,
verifying against the test CA). Exit 0 when every server behaves as README.md says.

    python3 tests/servers/smoke.py      # after postfix.sh start and faults.sh start
"""
import os
import smtplib
import ssl
import sys
import time
import uuid

D = os.environ.get("MG_TEST_DIR", "/tmp/mergeguard-test")
CA = os.environ.get("MG_TEST_CA", os.path.join(D, "certs/ca.crt"))
USER = os.environ.get("MG_TEST_SMTP_USER", "mailer")
PASSWORD = os.environ.get("MG_TEST_SMTP_PASSWORD", "secret")
MAILDIR = os.environ.get("MG_TEST_MAILDIR", os.path.join(D, "maildir"))
BASE = int(os.environ.get("MG_TEST_FAULT_BASE", "2601"))


def hostport(var, default):
    h, p = os.environ.get(var, default).rsplit(":", 1)
    return h, int(p)


ctx = ssl.create_default_context(cafile=CA)
failures = []


def case(name, fn, expected):
    try:
        got = fn()
    except Exception as e:  # the outcome under test may well be an exception
        got = type(e).__name__
    ok = got == expected
    print(f"{'ok  ' if ok else 'FAIL'} {name}: {got!r}" + ("" if ok else f" (expected {expected!r})"))
    if not ok:
        failures.append(name)


def message(tag):
    return f"From: news@shop.test\r\nTo: x@example.test\r\nSubject: smoke {tag}\r\nMessage-ID: <{tag}@smoke.test>\r\n\r\nhi\r\n"


def wait_for_file(folder, needle, seconds=10):
    end = time.time() + seconds
    while time.time() < end:
        for name in os.listdir(folder):
            with open(os.path.join(folder, name), errors="replace") as f:
                text = f.read()
            if needle in text:
                return text
        time.sleep(0.1)
    return None


# --- Postfix
def postfix_starttls():
    tag = uuid.uuid4().hex
    s = smtplib.SMTP(*hostport("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525"), timeout=10)
    s.ehlo()
    pre_auth = s.has_extn("auth")
    s.starttls(context=ctx)
    s.login(USER, PASSWORD)
    s.sendmail("news@shop.test", ["x@example.test"], message(tag))
    s.quit()
    text = wait_for_file(os.path.join(MAILDIR, "new"), tag)
    return (pre_auth, text is not None and "using TLSv1." in text and "Authenticated sender: " in text)


case("postfix 2525 STARTTLS+AUTH, delivered with TLS + sender in Received", postfix_starttls, (False, True))


def postfix_tls():
    s = smtplib.SMTP_SSL(*hostport("MG_TEST_SMTP_TLS", "127.0.0.1:2465"), context=ctx, timeout=10)
    code = s.login(USER, PASSWORD)[0]
    s.quit()
    return code


case("postfix 2465 implicit TLS login", postfix_tls, 235)


def postfix_plain_refuses_mail_before_tls():
    s = smtplib.SMTP(*hostport("MG_TEST_SMTP_STARTTLS", "127.0.0.1:2525"), timeout=10)
    s.ehlo()
    return s.mail("news@shop.test")[0]


case("postfix 2525 MAIL before STARTTLS refused", postfix_plain_refuses_mail_before_tls, 530)


def postfix_plain():
    s = smtplib.SMTP(*hostport("MG_TEST_SMTP_PLAIN", "127.0.0.1:2526"), timeout=10)
    refused = s.sendmail("news@shop.test", ["y@example.test"], message(uuid.uuid4().hex))
    s.quit()
    return refused


case("postfix 2526 plain accepts", postfix_plain, {})


# --- fault server
def no_starttls():
    s = smtplib.SMTP("127.0.0.1", BASE, timeout=5)
    s.ehlo()
    out = (s.has_extn("starttls"), s.has_extn("auth"))
    s.quit()
    return out


case("2601 no STARTTLS, AUTH offered in clear", no_starttls, (False, True))
for off, what in [(1, "self-signed"), (2, "expired"), (3, "wrong host")]:
    def bad(port=BASE + off):
        s = smtplib.SMTP("127.0.0.1", port, timeout=5)
        s.starttls(context=ctx)
        return "handshake succeeded"
    case(f"{BASE + off} {what} refused by a verifying client", bad, "SSLCertVerificationError")


def session():
    s = smtplib.SMTP("127.0.0.1", BASE + 4, timeout=5)
    s.starttls(context=ctx)
    s.login(USER, PASSWORD)
    return s


def rcpt_codes():
    s = session()
    s.mail("news@shop.test")
    n = uuid.uuid4().hex[:8]
    addrs = ["ok@x.test", f"tempfail1{n}@x.test", f"tempfail1{n}@x.test", "tempfail@x.test", "reject@x.test"]
    out = [s.rcpt(a)[0] for a in addrs]
    s.rset()
    s.quit()
    return out


case(f"{BASE + 4} RCPT codes ok/tempfail1 twice/tempfail/reject", rcpt_codes, [250, 451, 250, 451, 550])


def shutdown():
    s = session()
    s.mail("news@shop.test")
    code = s.rcpt("shutdown@x.test")[0]
    try:
        s.noop()
        return (code, "still open")
    except smtplib.SMTPServerDisconnected:
        return (code, "closed")


case(f"{BASE + 4} shutdown* 421 and close", shutdown, (421, "closed"))


def after_data(local):
    s = session()
    try:
        s.sendmail("news@shop.test", [f"{local}@x.test"], message(uuid.uuid4().hex))
        return 250
    except smtplib.SMTPDataError as e:
        return e.smtp_code


case(f"{BASE + 4} data451", lambda: after_data("data451"), 451)
case(f"{BASE + 4} data554", lambda: after_data("data554"), 554)
case(f"{BASE + 4} dropdata cut after the dot", lambda: after_data("dropdata"), "SMTPServerDisconnected")


def accepted():
    tag = uuid.uuid4().hex
    s = session()
    s.sendmail("news@shop.test", ["ok@x.test"], message(tag))
    s.quit()
    return wait_for_file(os.path.join(D, "faults/accepted"), tag) is not None


case(f"{BASE + 4} accepted message stored", accepted, True)


def silent():
    smtplib.SMTP("127.0.0.1", BASE + 5, timeout=1)
    return "greeted"


case(f"{BASE + 5} never greets", silent, "SMTPServerDisconnected")


def auth_both_sides():
    s = smtplib.SMTP("127.0.0.1", BASE + 6, timeout=5)
    s.ehlo()
    before = s.has_extn("auth")
    s.starttls(context=ctx)
    s.ehlo()
    out = (before, s.has_extn("auth"))
    s.quit()
    return out


case(f"{BASE + 6} AUTH before and after TLS", auth_both_sides, (True, True))


def no_auth():
    s = smtplib.SMTP("127.0.0.1", BASE + 7, timeout=5)
    s.starttls(context=ctx)
    s.ehlo()
    out = s.has_extn("auth")
    s.quit()
    return out


case(f"{BASE + 7} no AUTH after TLS", no_auth, False)


def legacy():
    s = smtplib.SMTP("127.0.0.1", BASE + 8, timeout=5)
    s.starttls(context=ctx)
    return s.sock.version()


case(f"{BASE + 8} TLS < 1.2 only: a TLS 1.2+ client cannot connect", legacy, "SSLEOFError")
sys.exit(1 if failures else 0)
