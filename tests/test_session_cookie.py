"""The hosted UI's session cookie over HTTPS: ``__Host-cognate``, Secure, host-only, for
Path=/ (browsers then refuse one planted by a sibling subdomain); over plain HTTP on
loopback, ``cognate``. A real server behind a TLS-terminating proxy is stood in for by
BROKER_BASE_URL naming https while the test speaks HTTP to the loopback port."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import requests

from tests.conftest import start_broker
from tests.rp import CALLBACK, pkce


def session_cookie(loopback: str, pool: str, client_id: str) -> str:
    """The Set-Cookie header of the hosted sign-in page an authorization request leads to."""
    r = requests.get(f"{loopback}/{pool}/oauth2/authorize", params={
        "response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": "openid",
        "code_challenge": pkce()[1], "code_challenge_method": "S256"},
        allow_redirects=False, timeout=10)
    assert r.status_code == 302 and "/login?txn=" in r.headers["Location"], r.headers.get("Location")
    login = urlsplit(r.headers["Location"])
    page = requests.get(f"{loopback}{login.path}?{login.query}", allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    return page.headers["Set-Cookie"]


@pytest.mark.parametrize("base_url", ["https://auth.example.test", None], ids=["https", "http"])
def test_the_session_cookie_is_host_only_and_secure_over_https(tmp_path, redis_url, base_url):
    extra = {"BROKER_BASE_URL": base_url} if base_url else {}
    broker = start_broker(tmp_path, redis_url=redis_url, **extra)
    try:
        pool = broker.pool()
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
        header = session_cookie(broker.base_url, pool, client["ClientId"])
    finally:
        broker.stop()
    attributes = [part.strip().lower() for part in header.split(";")]
    if base_url:
        assert header.startswith("__Host-cognate=") and "secure" in attributes and "path=/" in attributes
        assert not any(a.startswith("domain=") for a in attributes)
    else:
        assert header.startswith("cognate=") and "secure" not in attributes
