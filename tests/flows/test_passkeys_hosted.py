"""The hosted passkey pages driven like a browser without JavaScript (requests): the sign-in
page keeps its password form and offers the passkey only where the pool allows it; the
endpoints refuse a missing CSRF token, a forged or replayed answer, bad input and an old
sign-in, and change nothing when they do."""
from __future__ import annotations

import json
import re
import time
from urllib.parse import urljoin

import redis
import requests

from tests.flows.passkey_peers import PASSWORD, Server, server  # noqa: F401 (server is a fixture)
from tests.rp import RelyingParty, form_fields, pkce, query_of

EXPIRED_FORM = "The form has expired or was not sent from this page."


def _params(rp: RelyingParty) -> dict[str, str]:
    return rp.authorize_params(code_challenge=pkce()[1], code_challenge_method="S256")


def _login_page(rp: RelyingParty, path: str | None = None) -> requests.Response:
    params = _params(rp)
    url = f"{rp.issuer}{path}" if path else rp.config["authorization_endpoint"]
    page = rp.follow(rp.browser.get(url, params=params, allow_redirects=False, timeout=10))
    assert page.status_code == 200 and "/login?txn=" in page.url, page.text
    return page


def _post(rp: RelyingParty, page: requests.Response, path: str, data: dict[str, str],
          csrf: bool = True) -> requests.Response:
    fields = form_fields(page.text)
    if not csrf:
        fields.pop("csrf_token")
    return rp.browser.post(f"{rp.issuer}{path}", data={**fields, **data}, allow_redirects=False, timeout=10)


def _passkey_page(rp: RelyingParty) -> requests.Response:
    """/passkeys → the password → the passkey page (no passkey yet)."""
    r = rp.post_form(_login_page(rp, "/passkeys"), {"username": "mia", "password": PASSWORD},
                     action=f"{rp.issuer}/login")
    assert r.status_code == 302 and "/passkeys/manage?txn=" in r.headers["Location"], r.text
    page = rp.follow(r)
    assert page.status_code == 200 and "You have no passkeys yet." in page.text
    return page


def test_the_sign_in_page_offers_passkeys_only_where_the_pool_allows_them(server: Server) -> None:  # noqa: F811
    rp = server.site(server.pool(first_factors=("PASSWORD",)))
    page = _login_page(rp)
    assert "webauthn" not in page.text and "passkeys.js" not in page.text and "Sign in with a passkey" not in page.text
    refused = _post(rp, page, "/login/passkey/options", {})
    assert refused.status_code == 403 and "Passkeys are not available" in refused.text
    assert _post(rp, page, "/login/passkey", {"credential": "{}"}).status_code == 403

    server.set_pool(rp.pool_id, ("PASSWORD", "WEB_AUTHN"))
    page = _login_page(rp)
    assert 'autocomplete="username webauthn"' in page.text and "/static/js/passkeys.js" in page.text
    assert re.search(r"<button[^>]*\bhidden\b[^>]*data-passkey-button", page.text)  # shown by the script only
    r = rp.post_form(page, {"username": "mia", "password": PASSWORD}, action=f"{rp.issuer}/login")
    assert r.status_code == 302 and r.headers["Location"].startswith(rp.redirect_uri)  # the password, without JS


def test_passkey_options_are_bound_to_the_transaction_and_refused_without_csrf(server: Server) -> None:  # noqa: F811
    rp = server.site(server.pool())
    page = _login_page(rp)
    assert _post(rp, page, "/login/passkey/options", {}, csrf=False).status_code == 400
    txn = form_fields(page.text)["txn"]
    state = redis.Redis.from_url(server.broker.env["REDIS_URL"])
    assert state.get(f"cognate:login-passkey:{txn}") is None  # nothing kept for a forged request

    r = _post(rp, page, "/login/passkey/options", {})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    options = r.json()
    assert options["rpId"] == "localhost" and options["userVerification"] == "required"
    assert "allowCredentials" not in options or options["allowCredentials"] == []  # username-less
    kept = json.loads(state.get(f"cognate:login-passkey:{txn}"))
    assert kept["webauthn"] == options["challenge"] and kept["rp_id"] == "localhost"
    assert "passkey" not in json.loads(state.get(f"cognate:login:{txn}"))  # the sign-in itself is untouched
    again = _post(rp, page, "/login/passkey/options", {}).json()
    assert again["challenge"] != options["challenge"]  # a new one replaces it

    unknown = {"txn": "x" * 40, "csrf_token": form_fields(page.text)["csrf_token"]}
    missing = rp.browser.post(f"{rp.issuer}/login/passkey/options", data=unknown, allow_redirects=False, timeout=10)
    assert missing.status_code == 400 and "Your sign-in session has expired." in missing.text


def test_a_forged_answer_is_refused_and_uses_the_challenge_up(server: Server) -> None:  # noqa: F811
    rp = server.site(server.pool())
    page = _login_page(rp)
    no_csrf = _post(rp, page, "/login/passkey", {"credential": "{}"}, csrf=False)
    assert no_csrf.status_code == 400 and EXPIRED_FORM in no_csrf.text
    forged = {"id": "AAAA", "rawId": "AAAA", "type": "public-key", "clientExtensionResults": {},
              "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"}}
    for credential in (json.dumps(forged), "not json", "[]", '{"id": 1}'):
        _post(rp, page, "/login/passkey/options", {})
        r = _post(rp, page, "/login/passkey", {"credential": credential})
        assert r.status_code == 400 and "The passkey could not sign you in." in r.text, r.text[:300]
        assert 'name="password"' in r.text  # the sign-in page again, the password still offered
    r = _post(rp, page, "/login/passkey", {"credential": json.dumps(forged)})  # no challenge waits any longer
    assert r.status_code == 400 and "The passkey could not sign you in." in r.text
    huge = _post(rp, page, "/login/passkey", {"credential": "x" * 70000})
    assert huge.status_code == 413 and "The request is too large." in huge.text
    assert rp.post_form(page, {"username": "mia", "password": PASSWORD},
                        action=f"{rp.issuer}/login").headers["Location"].startswith(rp.redirect_uri)


def test_adding_a_passkey_needs_a_recent_sign_in(server: Server) -> None:  # noqa: F811
    rp = server.site(server.pool())
    page = _passkey_page(rp)
    r = _post(rp, page, "/passkeys/options", {})
    assert r.status_code == 200
    options = r.json()
    assert options["rp"]["id"] == "localhost" and options["user"]["name"] == "mia"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["attestation"] == "none"

    txn = form_fields(page.text)["txn"]
    state = redis.Redis.from_url(server.broker.env["REDIS_URL"])
    data = json.loads(state.get(f"cognate:login:{txn}"))
    state.set(f"cognate:login:{txn}", json.dumps({**data, "signed_in_at": int(time.time()) - 301}), ex=600)
    stale = _post(rp, page, "/passkeys/options", {})
    assert stale.status_code == 403 and "/login?txn=" in stale.json()["location"]
    assert json.loads(state.get(f"cognate:login:{txn}"))["step"] == "password"  # the sign-in is asked again

    login = rp.browser.get(urljoin(r.url, stale.json()["location"]), timeout=10)
    assert "Sign in again to add a passkey." in login.text
    r = rp.post_form(login, {"username": "mia", "password": PASSWORD}, action=f"{rp.issuer}/login")
    assert "/passkeys/manage?txn=" in r.headers["Location"]
    page = rp.follow(r)
    assert _post(rp, page, "/passkeys/options", {}).status_code == 200  # fresh again


def test_the_passkey_page_refuses_bad_input_and_changes_nothing(server: Server) -> None:  # noqa: F811
    rp = server.site(server.pool())
    page = _passkey_page(rp)
    for data, message in (({"action": "add"}, "needs a browser with JavaScript"),
                          ({"action": "add", "credential": "{}"}, "No passkey registration is waiting."),
                          ({"action": "rename", "credential_id": "nope", "name": "x"}, "No such passkey."),
                          ({"action": "delete", "credential_id": "nope"}, "No such passkey."),
                          ({"action": "rename", "credential_id": "nope", "name": "x" * 300}, "Passkey name"),
                          ({"action": "format"}, "This change is not available.")):
        r = _post(rp, page, "/passkeys/manage", data)
        assert r.status_code == 400 and message in r.text, (data, r.text[:500])
        assert "You have no passkeys yet." in r.text
    assert _post(rp, page, "/passkeys/options", {}, csrf=False).status_code == 400
    done = _post(rp, page, "/passkeys/manage", {"action": "done"}, csrf=False)
    assert done.status_code == 400 and EXPIRED_FORM in done.text

    other = RelyingParty(rp.base_url, rp.pool_id, rp.client_id, redirect_uri=rp.redirect_uri)  # another browser
    planted = other.browser.get(f"{rp.issuer}/passkeys/manage", params={"txn": form_fields(page.text)["txn"]},
                                allow_redirects=False, timeout=10)
    assert planted.status_code == 400 and "Your sign-in session has expired." in planted.text

    done = _post(rp, page, "/passkeys/manage", {"action": "done"})
    assert done.status_code == 302 and done.headers["Location"].startswith(rp.redirect_uri)
    assert "code" in query_of(done.headers["Location"])


def test_second_factor_settings_lead_to_the_passkey_page(server: Server) -> None:  # noqa: F811
    rp = server.site(server.pool("--mfa", "OPTIONAL"))
    page = rp.follow(rp.browser.get(f"{rp.issuer}/mfaSettings", params=_params(rp),
                                    allow_redirects=False, timeout=10))
    r = rp.post_form(page, {"username": "mia", "password": PASSWORD}, action=f"{rp.issuer}/login")
    settings = rp.follow(r)
    assert "/mfaSettings/manage?txn=" in settings.url and "Manage passkeys" in settings.text
    r = rp.post_form(settings, {"action": "passkeys"})
    assert r.status_code == 302 and "/passkeys/manage?txn=" in r.headers["Location"]
    page = rp.follow(r)
    assert "You have no passkeys yet." in page.text
    assert _post(rp, page, "/passkeys/options", {}).status_code == 200  # the sign-in for the settings is recent

    server.set_pool(rp.pool_id, ("PASSWORD",))  # passkeys no longer allowed: nothing to add, the page still lists
    page = rp.browser.get(page.url, timeout=10)
    assert page.status_code == 200 and "data-passkey-register" not in page.text
    assert _post(rp, page, "/passkeys/options", {}).status_code == 403
