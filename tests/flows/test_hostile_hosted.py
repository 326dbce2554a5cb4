"""Hostile input at the hosted forms and the headers every page carries, over real HTTP.
Each test asserts the exact refusal and that nothing changed: no user, code or session."""
from __future__ import annotations

import html
import re
import secrets
from urllib.parse import urlsplit

import pytest
import requests

from tests.rp import CALLBACK, RelyingParty, form_fields, query_of
from tests.flows.hostile import (  # noqa: F401 (fixtures)
    PASSWORD,
    UNKNOWN_CLIENT,
    TXN_EXPIRED,
    CSRF_FAILED,
    SIGN_IN_FAILED,
    _parallel,
    world,
    _fresh,
    _code_keys,
    _users,
    _error_page,
    _oauth_error,
    _session_alive,
    _login_page,
    _post,
    _error_box,
    _signup_page,
    _mask,
    _log_codes,
    _next_log_code,
)


def test_login_without_csrf_token_is_refused(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    before = _code_keys(world)
    fields = form_fields(page.text)
    r = _post(rp, "/login", {"txn": fields["txn"], "username": "alice", "password": PASSWORD})
    _error_page(r, 400, CSRF_FAILED)
    # a token from another browser's session does not help either
    stranger = _login_page(_fresh(world.conf))
    r = _post(rp, "/login", {**fields, "csrf_token": form_fields(stranger.text)["csrf_token"],
                             "username": "alice", "password": PASSWORD})
    _error_page(r, 400, CSRF_FAILED)
    assert _code_keys(world) == before
    assert not _session_alive(rp)
    assert rp.browser.get(page.url, timeout=10).status_code == 200  # the transaction is still there


def test_login_oversized_username_is_refused_with_a_clear_message(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    before = _code_keys(world)
    r = rp.post_form(page, {"username": "a" * 10240, "password": PASSWORD})
    assert r.status_code == 400 and "Location" not in r.headers
    assert "Username: Field cannot be longer than 256 characters." in html.unescape(_error_box(r.text))
    assert "a" * 257 not in r.text  # not echoed back whole
    assert _code_keys(world) == before and not _session_alive(rp)


@pytest.mark.parametrize("txn", ["bogus", "", "x" * 65, "x" * 5000, "../../etc/passwd", "%00"])
def test_login_unknown_or_malformed_txn_shows_error_page(world, txn):
    rp = _fresh(world.conf)
    r = rp.browser.get(f"{rp.issuer}/login", params={"txn": txn}, allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)
    page = _login_page(rp)
    r = rp.post_form(page, {"txn": txn, "username": "alice", "password": PASSWORD})
    _error_page(r, 400, TXN_EXPIRED)
    assert not _session_alive(rp)


def test_login_txn_of_another_pool_shows_error_page(world):
    rp = _fresh(world.other)
    txn = form_fields(_login_page(rp).text)["txn"]
    mine = _fresh(world.conf)
    r = mine.browser.get(f"{mine.issuer}/login", params={"txn": txn}, allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)


def test_wrong_password_and_unknown_user_answer_alike(world):
    answers = []
    for username, password in (("alice", "Wr0ng-Password!"), ("nobody-" + secrets.token_hex(4), PASSWORD)):
        rp = _fresh(world.conf)
        r = rp.post_form(_login_page(rp), {"username": username, "password": password})
        assert "Location" not in r.headers and not _session_alive(rp)
        answers.append((r.status_code, _error_box(r.text), re.search(r"<title>.*?</title>", r.text).group(0)))
    assert answers[0] == answers[1]
    assert answers[0][0] == 400 and SIGN_IN_FAILED in answers[0][1]


def test_repeated_failures_are_throttled_even_with_the_right_password(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    before = _code_keys(world)
    for _ in range(3):  # lockout_free_attempts
        r = rp.post_form(page, {"username": "target", "password": "Wr0ng-Password!"})
        assert r.status_code == 400 and SIGN_IN_FAILED in r.text
    r = rp.post_form(page, {"username": "target", "password": PASSWORD})
    assert r.status_code == 429, r.text
    assert "Location" not in r.headers
    assert re.search(r"Too many failed attempts\. Try again in \d+ seconds?\.", _error_box(r.text))
    assert _code_keys(world) == before and not _session_alive(rp)


def test_signup_with_weak_password_names_the_rules_and_creates_nothing(world):
    rp = _fresh(world.conf)
    name = "weak-" + secrets.token_hex(4)
    r = rp.post_form(_signup_page(rp), {"username": name, "email": f"{name}@example.com", "password": "alllowercase"})
    assert r.status_code == 400 and "Location" not in r.headers
    box = html.unescape(_error_box(r.text))
    for rule in ("Password must contain an uppercase letter.", "Password must contain a number.",
                 "Password must contain a symbol."):
        assert rule in box
    assert "lowercase letter" not in box and "at least" not in box
    r = rp.post_form(_signup_page(rp), {"username": name, "email": f"{name}@example.com", "password": "Sh0rt!"})
    assert r.status_code == 400 and "Password must have at least 8 characters." in _error_box(r.text)
    assert name not in _users(world)


def test_signup_with_a_taken_username_looks_like_success_and_changes_nothing(world):
    before = _users(world)["alice"]
    fresh_name = "fresh-" + secrets.token_hex(4)
    answers = []
    for name in ("alice", fresh_name):
        rp = _fresh(world.conf)
        r = rp.post_form(_signup_page(rp), {"username": name, "email": "mallory@example.com", "password": "N3w-Passw0rd!"})
        assert r.status_code == 302, r.text
        txn = query_of(r.headers["Location"])["txn"]
        page = rp.follow(r)
        answers.append((r.status_code, _mask(r.headers["Location"], txn, name), page.status_code,
                        _mask(page.text, txn, name)))
    assert answers[0] == answers[1]
    after = _users(world)
    assert after["alice"] == before  # same sub, status, attributes (email not replaced), password untouched
    assert after[fresh_name]["UserStatus"] == "UNCONFIRMED"
    assert _fresh(world.conf).sign_in("alice", PASSWORD)[1]


def test_confirm_with_a_wrong_code_is_refused_and_confirms_nothing(world):
    rp = _fresh(world.conf)
    name = "conf-" + secrets.token_hex(4)
    r = rp.post_form(_signup_page(rp), {"username": name, "email": f"{name}@example.com", "password": "N3w-Passw0rd!"})
    assert r.status_code == 302, r.text
    page = rp.follow(r)
    right = _next_log_code(world, f"{name}@example.com", 0)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    r = rp.post_form(page, {"username": name, "code": wrong})
    assert r.status_code == 400 and "Location" not in r.headers
    assert "Invalid verification code provided, please try again." in _error_box(r.text)
    r = rp.post_form(page, {"username": name, "code": "12ab56"})
    assert r.status_code == 400 and "Enter the 6-digit code." in _error_box(r.text)
    r = rp.post_form(page, {"username": "alice", "code": right})  # someone else's code for another user
    assert r.status_code == 400
    assert _users(world)[name]["UserStatus"] == "UNCONFIRMED"
    r = rp.post_form(page, {"username": name, "code": right})  # the right code still works afterwards
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "?code=")


def test_forgot_password_answers_alike_for_unknown_and_known_users(world):
    answers = []
    for name in ("alice", "ghost-" + secrets.token_hex(4)):
        rp = _fresh(world.conf)
        txn = form_fields(_login_page(rp).text)["txn"]
        page = rp.browser.get(f"{rp.issuer}/forgotPassword", params={"txn": txn}, timeout=10)
        r = rp.post_form(page, {"username": name})
        assert r.status_code == 302, r.text
        follow = rp.follow(r)
        answers.append((r.status_code, _mask(r.headers["Location"], txn, name), follow.status_code,
                        _mask(follow.text, txn, name)))
    assert answers[0] == answers[1]
    assert "If the account exists, a code has been sent" in answers[0][3]
    assert _fresh(world.conf).sign_in("alice", PASSWORD)[1]  # the password is unchanged


def test_hosted_form_refuses_a_huge_body_with_413(world):
    rp = _fresh(world.conf)
    page = _login_page(rp)
    r = rp.post_form(page, {"username": "alice", "password": PASSWORD, "pad": "a" * (65 * 1024)})
    assert r.status_code == 413 and "Location" not in r.headers
    assert "The request is too large." in r.text and r.headers["Content-Type"].startswith("text/html")
    assert not _session_alive(rp)


@pytest.mark.parametrize("fields,message", [
    ({"username": "has space"}, "The username must have 1 to 128 letters, digits or . _ @ + = , -"),
    ({"username": "u" * 200}, "Username: Field cannot be longer than 128 characters."),
    ({"email": "not-an-email"}, "Enter a valid email address."),
    ({"email": "a" * 5000 + "@example.com"}, "Enter a valid email address."),
    ({"email": "a\x00b@example.com"}, "Email contains characters that are not allowed."),
    ({"email": ""}, "Email is required."),
    ({"username": ""}, "Username: This field is required."),
], ids=["space", "overlong-username", "bad-email", "huge-email", "nul-email", "no-email", "no-username"])
def test_signup_garbage_is_refused_with_a_clear_message(world, fields, message):
    rp = _fresh(world.conf)
    data = {"username": "", "email": "", "password": "N3w-Passw0rd!", **fields}
    if "username" not in fields:
        data["username"] = "garbage-" + secrets.token_hex(4)
    r = rp.post_form(_signup_page(rp), data)
    assert r.status_code == 400 and "Location" not in r.headers, r.headers.get("Location")
    assert message in html.unescape(_error_box(r.text))
    assert len(r.text) < 20000  # huge input is not echoed back whole
    assert not _session_alive(rp)
    assert data["username"].strip().lower() not in _users(world)  # nothing was created


def test_reset_with_a_wrong_code_changes_no_password(world):
    rp = _fresh(world.conf)
    txn = form_fields(_login_page(rp).text)["txn"]
    page = rp.browser.get(f"{rp.issuer}/forgotPassword", params={"txn": txn}, timeout=10)
    seen = len(_log_codes(world, "alice@example.com"))
    r = rp.post_form(page, {"username": "alice"})
    assert r.status_code == 302, r.text
    page = rp.follow(r)
    right = _next_log_code(world, "alice@example.com", seen)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    new = "Ch4nged-Passw0rd!"
    r = rp.post_form(page, {"code": wrong, "password": new, "password_confirm": new})
    assert r.status_code == 400 and "Location" not in r.headers
    assert "Invalid code provided, please request a code again." in _error_box(r.text)
    r = rp.post_form(page, {"code": right, "password": new, "password_confirm": new + "x"})
    assert r.status_code == 400 and "The passwords do not match." in _error_box(r.text)
    r = rp.post_form(page, {"code": right, "password": "weak", "password_confirm": "weak"})
    assert r.status_code == 400 and "Password must have at least 8 characters." in _error_box(r.text)
    assert _fresh(world.conf).sign_in("alice", PASSWORD)[1]  # the old password still works
    assert _fresh(world.conf).sign_in("alice", new)[1] is None


def test_new_password_page_needs_a_transaction_at_that_step(world):
    rp = _fresh(world.conf)
    txn = form_fields(_login_page(rp).text)["txn"]
    r = rp.browser.get(f"{rp.issuer}/newPassword", params={"txn": txn}, allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)
    r = rp.browser.get(f"{rp.issuer}/newPassword", allow_redirects=False, timeout=10)
    _error_page(r, 400, TXN_EXPIRED)


def test_nul_bytes_are_refused_cleanly_on_postgresql(make_broker, postgres_url, redis_url):
    """PostgreSQL text cannot hold NUL, and its driver raises on one: every lookup by a
    name the client chose must answer as for an unknown name, never 500."""
    node = make_broker(database_url=postgres_url, redis_url=redis_url)
    pool = node.pool()
    _u, conf = _parallel(
        lambda: node.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD,
                         "--email", "alice@example.com", "--confirmed"),
        lambda: node.cli_json("client", "create", "--pool", pool, "--name", "conf", "--callback-url", CALLBACK,
                              "--secret"))
    rp = RelyingParty(node.base_url, pool, conf["ClientId"], conf["ClientSecret"])
    token = rp.config["token_endpoint"]
    assert requests.get(f"{node.base_url}/local_%00/oauth2/authorize", timeout=10).status_code == 404
    assert requests.get(f"{node.base_url}/a%00/.well-known/jwks.json", timeout=10).status_code == 404
    _error_page(rp.authorize(client_id="a\x00b"), 400, UNKNOWN_CLIENT)
    _error_page(requests.get(rp.config["end_session_endpoint"], params={"client_id": "a\x00"},
                             allow_redirects=False, timeout=10), 400, UNKNOWN_CLIENT)
    data = {"grant_type": "authorization_code", "code": "x", "redirect_uri": CALLBACK}
    _oauth_error(requests.post(token, data={**data, "client_id": "a\x00"}, timeout=10), 400, "invalid_client")
    _oauth_error(requests.post(token, data=data, auth=("a\x00", "b"), timeout=10), 401, "invalid_client")
    page = _login_page(rp)
    r = rp.post_form(page, {"username": "al\x00ice", "password": PASSWORD})
    assert r.status_code == 400 and SIGN_IN_FAILED in r.text
    txn = form_fields(page.text)["txn"]
    forgot = rp.browser.get(f"{rp.issuer}/forgotPassword", params={"txn": txn}, timeout=10)
    r = rp.post_form(forgot, {"username": "al\x00ice"})
    assert r.status_code == 302 and "/confirmForgotPassword?" in r.headers["Location"]
    r = rp.post_form(forgot, {"username": "al\x00ice", "code": "123456"}, action=f"/{pool}/confirmUser")
    assert r.status_code == 400 and "Invalid verification code provided" in r.text
    assert rp.sign_in("alice", PASSWORD)[1]  # the store is fine


def test_hosted_pages_carry_security_headers_and_a_strict_cookie(world):
    rp = _fresh(world.conf)
    authorize = rp.authorize()
    page = rp.follow(authorize)
    error = rp.browser.get(f"{rp.issuer}/login", params={"txn": "bogus"}, timeout=10)
    for r in (authorize, page, error):
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["Cache-Control"] == "no-store"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("cognate=")
    attributes = {a.strip().lower() for a in cookie.split(";")[1:]}
    assert "httponly" in attributes and "samesite=lax" in attributes
    # the signed-in session cookie too
    r = rp.post_form(page, {"username": "alice", "password": PASSWORD})
    assert r.status_code == 302
    attributes = {a.strip().lower() for a in r.headers["Set-Cookie"].split(";")[1:]}
    assert "httponly" in attributes and "samesite=lax" in attributes
    assert urlsplit(r.headers["Location"]).netloc == "localhost:9000"
