"""OpenID Connect RP-Initiated Logout 1.0 at /logout, beside Cognito's form (whose own tests
are in test_hostile_oauth.py and test_token_attacks.py): the hint names the app, a hint that
is not this pool's genuine ID token for it signs nobody out, a redirect goes only to a
registered sign-out URL, and without a hint naming the signed-in user the user is asked."""
from __future__ import annotations

import html
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from tests.flows.hostile import (BAD_LOGOUT, CSRF_FAILED, LOGOUT, MISSING_CLIENT, UNKNOWN_CLIENT, World, _error_page,
                                 _b64, _fresh, _pool_private_key, _session_alive, _sign_in, _split, _tokens, world)
from tests.rp import CALLBACK, RelyingParty, form_fields, pkce, query_of

__all__ = ["world"]

HINT_REFUSED = "The id_token_hint is not an ID token of this user pool for this application."
ASKED = "An application asked to sign you out. Do you want to sign out?"
HELD_EXPIRED = "This sign-out request has expired. Go back to the application and sign out again."


def _signed_in(w: World) -> tuple[RelyingParty, dict]:
    """A new browser signed in as alice with the public client, and its tokens."""
    rp = _fresh(w.pub)
    _sign_in(rp, "alice")
    return rp, _tokens(rp)


def _logout(rp: RelyingParty, **params: str) -> requests.Response:
    return rp.browser.get(rp.config["end_session_endpoint"], params=params, allow_redirects=False, timeout=10)


def _asks(r: requests.Response) -> None:
    assert r.status_code == 200 and "Location" not in r.headers, r.text
    assert ASKED in html.unescape(r.text)


def test_hint_alone_names_the_app_and_signs_out_to_the_registered_uri(world):
    rp, tokens = _signed_in(world)
    r = _logout(rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=LOGOUT, state="x y&z")
    assert r.status_code == 302, r.text
    assert r.headers["Location"].split("?")[0] == LOGOUT and query_of(r.headers["Location"]) == {"state": "x y&z"}
    assert not _session_alive(rp)


def test_hint_with_its_own_client_id_signs_out(world):
    rp, tokens = _signed_in(world)
    r = _logout(rp, id_token_hint=tokens["id_token"], client_id=rp.client_id, post_logout_redirect_uri=LOGOUT)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT
    assert not _session_alive(rp)


def test_expired_hint_is_still_a_hint(world):
    """§2: the OP need not check that the hint is unexpired (an app signs out long after)."""
    rp, tokens = _signed_in(world)
    header, claims, _sig = _split(tokens["id_token"])
    now = int(time.time())
    expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, _pool_private_key(world, header["kid"]),
                         "RS256", headers={"kid": header["kid"]})
    r = _logout(rp, id_token_hint=expired, post_logout_redirect_uri=LOGOUT)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT
    assert not _session_alive(rp)


def test_without_redirect_the_signed_out_page_is_shown(world):
    rp, tokens = _signed_in(world)
    r = _logout(rp, id_token_hint=tokens["id_token"])
    assert r.status_code == 200 and "You have been signed out." in html.unescape(r.text)
    assert not _session_alive(rp)


def _hints(w: World, tokens: dict) -> dict[str, str]:
    header, claims, sig = _split(tokens["id_token"])
    key = _pool_private_key(w, header["kid"])
    other = _tokens(w.other)["id_token"]  # bob's, of the second pool
    return {
        "other-pool": other,
        "access-token": tokens["access_token"],
        "tampered-aud": ".".join([tokens["id_token"].split(".")[0], _b64(json.dumps({**claims, "aud": w.conf.client_id})
                                                                              .encode()), sig]),
        "other-issuer": jwt.encode({**claims, "iss": "http://evil.example/x"}, key, "RS256",
                                   headers={"kid": header["kid"]}),
        "no-sub": jwt.encode({k: v for k, v in claims.items() if k != "sub"}, key, "RS256",
                             headers={"kid": header["kid"]}),
        "aud-list": jwt.encode({**claims, "aud": [claims["aud"], "x"]}, key, "RS256", headers={"kid": header["kid"]}),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize("kind", ["other-pool", "access-token", "tampered-aud", "other-issuer", "no-sub", "aud-list",
                                  "garbage"])
def test_a_hint_that_is_no_genuine_id_token_of_the_pool_signs_nobody_out(world, kind):
    rp, tokens = _signed_in(world)
    r = _logout(rp, id_token_hint=_hints(world, tokens)[kind], post_logout_redirect_uri=LOGOUT)
    _error_page(r, 400, HINT_REFUSED)
    assert _session_alive(rp)


def test_a_hint_for_another_app_than_client_id_is_refused(world):
    rp, tokens = _signed_in(world)
    r = _logout(rp, id_token_hint=tokens["id_token"], client_id=world.conf.client_id, post_logout_redirect_uri=LOGOUT)
    _error_page(r, 400, HINT_REFUSED)
    assert _session_alive(rp)


@pytest.mark.parametrize("uri", ["http://evil.example/bye", "http://localhost:9000/bye.evil.com", "//evil.example",
                                 LOGOUT + "?next=http://evil.example", LOGOUT + "/", "HTTP://localhost:9000/bye",
                                 "javascript:alert(1)", ""])
def test_an_unregistered_post_logout_redirect_uri_is_an_error_page_never_a_redirect(world, uri):
    rp, tokens = _signed_in(world)
    r = _logout(rp, id_token_hint=tokens["id_token"], post_logout_redirect_uri=uri)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


def test_a_hint_of_the_app_without_logout_urls_cannot_redirect(world):
    """The confidential client registered no sign-out URL: its own hint gets no redirect."""
    rp = _fresh(world.conf)
    _sign_in(rp, "alice")
    r = _logout(rp, id_token_hint=_tokens(rp)["id_token"], post_logout_redirect_uri=LOGOUT)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


@pytest.mark.parametrize("params,message", [
    ({"post_logout_redirect_uri": LOGOUT}, MISSING_CLIENT),
    ({"client_id": "unknown", "post_logout_redirect_uri": LOGOUT}, UNKNOWN_CLIENT),
    ({"client_id": "x" * 300}, UNKNOWN_CLIENT),
], ids=["no-client", "unknown-client", "oversized-client"])
def test_a_redirect_without_a_known_app_is_refused(world, params, message):
    rp, _tokens_ = _signed_in(world)
    _error_page(_logout(rp, **params), 400, message)
    assert _session_alive(rp)


@pytest.mark.parametrize("name", ["post_logout_redirect_uri", "id_token_hint", "client_id", "state"])
def test_repeated_parameters_are_refused(world, name):
    rp, tokens = _signed_in(world)
    params = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT, "client_id": rp.client_id,
              "state": "s"}
    query = [(k, v) for k, v in params.items()] + [(name, "http://evil.example/bye" if "uri" in name else "x")]
    r = rp.browser.get(rp.config["end_session_endpoint"], params=query, allow_redirects=False, timeout=10)
    _error_page(r, 400, "The request is invalid.")
    assert _session_alive(rp)


def test_without_a_hint_the_user_is_asked_and_a_forged_link_signs_nobody_out(world):
    """A cross-site link or image to /logout with only client_id and a registered URI (what
    anyone can read from the app) gets the question, not a silent sign-out."""
    rp, _t = _signed_in(world)
    asked = _logout(rp, client_id=rp.client_id, post_logout_redirect_uri=LOGOUT, state="s2")
    _asks(asked)
    assert _session_alive(rp)
    forged = rp.browser.post(f"{rp.issuer}/logout/confirm", allow_redirects=False, timeout=10,
                             data={"client_id": rp.client_id, "post_logout_redirect_uri": LOGOUT})
    _error_page(forged, 400, CSRF_FAILED)  # no token from the page: refused
    assert _session_alive(rp)
    action = re.search(r'<form[^>]*action="([^"]+)"', asked.text).group(1)
    r = rp.browser.post(requests.compat.urljoin(asked.url, html.unescape(action)), data=form_fields(asked.text),
                        allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT + "?state=s2"
    assert not _session_alive(rp)


def test_the_confirmation_still_checks_the_redirect(world):
    """The form's fields are the browser's to change: a changed URI is refused there too."""
    rp, _t = _signed_in(world)
    asked = _logout(rp, client_id=rp.client_id, post_logout_redirect_uri=LOGOUT)
    fields = {**form_fields(asked.text), "post_logout_redirect_uri": "http://evil.example/bye"}
    r = rp.browser.post(f"{rp.issuer}/logout/confirm", data=fields, allow_redirects=False, timeout=10)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


def test_a_hint_naming_another_user_asks(world):
    """Someone's own old ID token does not sign another person out unasked."""
    rp, _t = _signed_in(world)
    target = _fresh(world.pub)
    _sign_in(target, "target")
    r = _logout(rp, id_token_hint=_tokens(target)["id_token"], post_logout_redirect_uri=LOGOUT)
    _asks(r)
    assert _session_alive(rp)


def test_nobody_signed_in_goes_straight_back(world):
    rp = _fresh(world.pub)
    r = _logout(rp, client_id=rp.client_id, post_logout_redirect_uri=LOGOUT)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT


def test_a_bare_logout_asks_then_shows_the_signed_out_page(world):
    rp, _t = _signed_in(world)
    asked = _logout(rp)
    _asks(asked)
    r = rp.browser.post(f"{rp.issuer}/logout/confirm", data=form_fields(asked.text), allow_redirects=False,
                        timeout=10)
    assert r.status_code == 200 and "You have been signed out." in html.unescape(r.text)
    assert not _session_alive(rp)


def test_ui_locales_chooses_the_language_of_the_question(world):
    rp, _t = _signed_in(world)
    r = _logout(rp, client_id=rp.client_id, post_logout_redirect_uri=LOGOUT, ui_locales="xx fr-CA en")
    assert r.status_code == 200 and r.headers["Content-Language"] == "fr"
    assert "Voulez-vous vous déconnecter ?" in html.unescape(r.text)
    assert "ui_locales=xx+fr-CA+en" in html.unescape(r.text) or "ui_locales=xx%20fr-CA%20en" in html.unescape(r.text)


def _held_key(w: World, r: requests.Response) -> str:
    """The key of a request sent as a form, from the 303 that answers it: the address names
    only that key (and the page's language), nothing the form sent."""
    assert r.status_code == 303, r.text
    location = urlsplit(r.headers["Location"])
    assert not location.scheme and not location.netloc and not location.fragment, r.headers["Location"]
    assert location.path == f"/{w.pool}/logout" and set(parse_qs(location.query)) <= {"logout_request", "ui_locales"}
    return query_of(r.headers["Location"])["logout_request"]


def test_a_form_post_goes_on_as_the_get_it_stands_for(world):
    rp, tokens = _signed_in(world)
    data = {"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": LOGOUT, "state": "p"}
    r = requests.post(rp.config["end_session_endpoint"], data=data, allow_redirects=False, timeout=10)  # cross-site
    _held_key(world, r)
    assert tokens["id_token"] not in r.headers["Location"]  # (browser history, access logs)
    bad = requests.post(rp.config["end_session_endpoint"], data={**data, "post_logout_redirect_uri": "http://evil.example"},
                        allow_redirects=False, timeout=10)
    _error_page(bad, 400, BAD_LOGOUT)
    again = requests.compat.urljoin(rp.config["end_session_endpoint"], r.headers["Location"])
    r = rp.browser.get(again, allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT + "?state=p"
    assert not _session_alive(rp)


def test_a_request_held_for_its_get_is_short_lived_and_used_once(world):
    rp, tokens = _signed_in(world)
    r = requests.post(rp.config["end_session_endpoint"], data={"id_token_hint": tokens["id_token"]},
                      allow_redirects=False, timeout=10)
    key = _held_key(world, r)
    assert 0 < world.redis.ttl(f"cognate:{{{world.pool}}}:logout:{key}") <= 60
    held = requests.compat.urljoin(rp.config["end_session_endpoint"], r.headers["Location"])
    other = _fresh(world.pub)
    _sign_in(other, "alice")
    assert other.browser.get(held, allow_redirects=False, timeout=10).status_code == 200  # signed out there
    assert not _session_alive(other)
    _error_page(rp.browser.get(held, allow_redirects=False, timeout=10), 400, HELD_EXPIRED)  # spent
    assert _session_alive(rp)
    for key in ("", "unknown", "x" * 65):
        r = rp.browser.get(rp.config["end_session_endpoint"], params={"logout_request": key, "client_id": rp.client_id,
                                                                       "logout_uri": LOGOUT},
                           allow_redirects=False, timeout=10)
        _error_page(r, 400, HELD_EXPIRED)  # the URL's own parameters never stand in for it
    assert _session_alive(rp)


#: Names that ``url_for`` reads as its own arguments: sent to /logout, none may name the
#: route, change the scheme or add a fragment (nor fail the request).
URL_FOR_NAMES = [{"endpoint": "hosted.login"}, {"_method": "POST"}, {"_anchor": "evil"},
                 {"_external": "1", "_scheme": "javascript"}, {"_scheme": "http"}, {"_external": "1"}]


@pytest.mark.parametrize("extra", URL_FOR_NAMES, ids=lambda e: "+".join(e))
def test_a_form_post_carries_only_the_logout_parameters(world, extra):
    rp, _t = _signed_in(world)
    data = {"client_id": rp.client_id, "logout_uri": LOGOUT, "state": "s", **extra}
    r = requests.post(rp.config["end_session_endpoint"], data=data, allow_redirects=False, timeout=10)
    _held_key(world, r)
    r = rp.browser.get(requests.compat.urljoin(rp.config["end_session_endpoint"], r.headers["Location"]),
                       allow_redirects=False, timeout=10)
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT + "?state=s"
    assert not _session_alive(rp)


def _sign_in_again(rp: RelyingParty) -> dict[str, str]:
    """Cognito's logout that signs in again: an authorization request for the public client."""
    return {"client_id": rp.client_id, "redirect_uri": CALLBACK, "response_type": "code", "scope": "openid",
            "state": "again", "code_challenge": pkce()[1], "code_challenge_method": "S256"}


@pytest.mark.parametrize("extra", URL_FOR_NAMES, ids=lambda e: "+".join(e))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_signing_in_again_carries_only_the_authorization_parameters(world, extra, method):
    rp, _t = _signed_in(world)
    params = _sign_in_again(rp)
    if method == "GET":
        r = _logout(rp, **params, **extra)
    else:
        posted = requests.post(rp.config["end_session_endpoint"], data={**params, **extra}, allow_redirects=False,
                               timeout=10)
        _held_key(world, posted)
        r = rp.browser.get(requests.compat.urljoin(rp.config["end_session_endpoint"], posted.headers["Location"]),
                           allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    location = urlsplit(r.headers["Location"])
    assert (location.scheme, location.netloc, location.fragment) == ("", "", ""), r.headers["Location"]
    assert location.path == f"/{world.pool}/oauth2/authorize" and query_of(r.headers["Location"]) == params
    assert not _session_alive(rp)
