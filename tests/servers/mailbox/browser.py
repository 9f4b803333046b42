#!/usr/bin/env python3
"""The person's side of a sign-in at the test IdP, as a browser does it (stdlib only,
taken from ../shared/recipes/oauth-mailbox/smoke.py): for the device flow, open the
verification page, enter the code, confirm, sign in, consent; for the browser flow, open
the app's sign-in address, sign in, consent (or cancel) and follow the IdP's last redirect
to the app's own page on 127.0.0.1. Also revokes a token, as a person withdrawing consent.

  browser.py approve VERIFICATION_URI USER_CODE LOGIN PASSWORD   exit 0 = signed in
  browser.py signin AUTHORIZE_URL LOGIN PASSWORD [--decline]     exit 0 = back at the app
  browser.py revoke REFRESH_TOKEN                                exit 0 = revoked
Reads $MG_TEST_DIR/mailbox/env."""
import http.cookiejar
import os
import re
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

D = os.path.join(os.environ.get("MG_TEST_DIR", "/tmp/mergeguard-test"), "mailbox")
E = {}
with open(os.path.join(D, "env")) as f:
    for line in f:
        if "=" in line and not line.startswith("#"):
            k, v = line.rstrip("\n").split("=", 1)
            E[k] = v.strip("'")
CTX = ssl.create_default_context(cafile=E["OAUTH_MAILBOX_CA"])


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()),
    urllib.request.HTTPSHandler(context=CTX), NoRedirect())


def go(method, url, form=None):
    while True:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            r = OPENER.open(urllib.request.Request(url, data=data, method=method), timeout=10)
        except urllib.error.HTTPError as e:
            r = e
        body = r.read().decode()
        if r.status in (302, 303) and r.headers["Location"]:
            url, method, form = urllib.parse.urljoin(url, r.headers["Location"]), "GET", None
            continue
        return r.status, r.headers, body, url


def field(html, name):
    m = re.search(rf'name="{name}" value="([^"]*)"', html)
    return m.group(1) if m else None


def approve(uri, code, login, password):
    status, _, html, url = go("GET", uri)
    action = urllib.parse.urljoin(url, re.search(r'action="([^"]+)"', html).group(1))
    status, _, html, url = go("POST", action, {"xsrf": field(html, "xsrf"), "user_code": code})
    status, headers, html, url = go("POST", action, {"xsrf": field(html, "xsrf"), "user_code": code, "confirm": "yes"})
    while headers["X-Interaction-Prompt"]:
        prompt, uid = headers["X-Interaction-Prompt"], url.rstrip("/").rsplit("/", 1)[1]
        base = f"{E['OAUTH_MAILBOX_ISSUER']}/interaction/{uid}"
        if prompt == "login":
            status, headers, html, url = go("POST", f"{base}/login", {"login": login, "password": password})
            if status == 401:
                sys.exit("login refused")
        else:
            status, headers, html, url = go("POST", f"{base}/confirm", {})
    if not (status == 200 and "Sign-in Success" in html):
        sys.exit(f"no success page (status {status})")


def signin(authorize_url, login, password, decline=False):
    """Authorization code flow: the IdP's login and consent pages, then its 303 to the
    app's loopback address, followed like any redirect. --decline cancels at the first
    page instead (the app then hears error=access_denied)."""
    status, headers, html, url = go("GET", authorize_url)
    while headers["X-Interaction-Prompt"]:
        prompt, uid = headers["X-Interaction-Prompt"], url.rstrip("/").rsplit("/", 1)[1]
        base = f"{E['OAUTH_MAILBOX_ISSUER']}/interaction/{uid}"
        if decline:
            status, headers, html, url = go("POST", f"{base}/abort", {})
        elif prompt == "login":
            status, headers, html, url = go("POST", f"{base}/login", {"login": login, "password": password})
            if status == 401:
                sys.exit("login refused")
        else:
            status, headers, html, url = go("POST", f"{base}/confirm", {})
    if not urllib.parse.urlsplit(url).netloc.startswith("127.0.0.1:"):
        sys.exit(f"the IdP did not send the browser back to the app (status {status}, at {url.split('?')[0]})")
    if not (status == 200 and "go back to MergeGuard" in html):
        sys.exit(f"the app's page was not shown (status {status})")


def revoke(token):
    data = urllib.parse.urlencode({"token": token, "token_type_hint": "refresh_token",
                                   "client_id": E["OAUTH_MAILBOX_CLIENT_ID"]}).encode()
    with urllib.request.urlopen(urllib.request.Request(E["OAUTH_MAILBOX_REVOCATION_URL"], data=data),
                                context=CTX, timeout=10) as r:
        if r.status != 200:
            sys.exit(f"revocation answered {r.status}")


if sys.argv[1] == "approve":
    approve(*sys.argv[2:6])
elif sys.argv[1] == "signin":
    signin(*sys.argv[2:5], decline="--decline" in sys.argv[5:])
elif sys.argv[1] == "revoke":
    revoke(sys.argv[2])
else:
    sys.exit(__doc__)
