"""Hostile input at the OAuth surfaces (authorize, token, userInfo, logout), over real HTTP.
Each test asserts the exact refusal and that nothing changed: no code, token or session."""
from __future__ import annotations

import time

import jwt
import pytest
import requests

from tests.rp import CALLBACK, RelyingParty, pkce, query_of
from tests.flows.hostile import (  # noqa: F401 (fixtures)
    CHALLENGE,
    LOGOUT,
    NOT_REGISTERED,
    UNKNOWN_CLIENT,
    MISSING_CLIENT,
    BAD_LOGOUT,
    world,
    _fresh,
    _sign_in,
    _code,
    _tokens,
    _code_keys,
    _refresh_rows,
    _error_page,
    _redirect_error,
    _oauth_error,
    _session_alive,
    UNREGISTERED,
    REDIRECTED,
    _basic,
    _split,
    _pool_private_key,
    FORGERIES,
    genuine,
    forged,
    _refused,
)


@pytest.mark.parametrize("redirect_uri", UNREGISTERED.values(), ids=UNREGISTERED.keys())
def test_authorize_unregistered_redirect_uri_shows_error_page(world, redirect_uri):
    before = _code_keys(world)
    r = world.conf.authorize(redirect_uri=redirect_uri)  # the browser is signed in: a success would mint a code
    _error_page(r, 400, NOT_REGISTERED)
    assert _code_keys(world) == before


@pytest.mark.parametrize("values", [
    [CALLBACK, CALLBACK], [CALLBACK, "http://evil.example/cb"], ["http://evil.example/cb", CALLBACK], [],
], ids=["same-twice", "good-then-evil", "evil-then-good", "missing"])
def test_authorize_duplicated_or_missing_redirect_uri_shows_error_page(world, values):
    params = [(k, v) for k, v in world.conf.authorize_params().items() if k != "redirect_uri"]
    params += [("redirect_uri", v) for v in values]
    before = _code_keys(world)
    r = world.conf.browser.get(world.conf.config["authorization_endpoint"], params=params, allow_redirects=False,
                               timeout=10)
    _error_page(r, 400, NOT_REGISTERED)
    assert _code_keys(world) == before


@pytest.mark.parametrize("client_id,message", [
    ("nosuchclient0000000000000a", UNKNOWN_CLIENT),
    ("x" * 129, UNKNOWN_CLIENT),
    ("' or 1=1 --", UNKNOWN_CLIENT),
    (None, MISSING_CLIENT),
    ("", MISSING_CLIENT),
], ids=["unknown", "overlong", "sql", "missing", "empty"])
def test_authorize_unknown_client_shows_error_page(world, client_id, message):
    params = world.conf.authorize_params(client_id=client_id or "")
    if client_id is None:
        del params["client_id"]
    r = requests.get(world.conf.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    _error_page(r, 400, message)


def test_authorize_client_of_another_pool_or_twice_shows_error_page(world):
    before = _code_keys(world)
    r = world.conf.authorize(client_id=world.other.client_id)
    _error_page(r, 400, UNKNOWN_CLIENT)
    params = list(world.conf.authorize_params().items()) + [("client_id", world.pub.client_id)]
    r = world.conf.browser.get(world.conf.config["authorization_endpoint"], params=params, allow_redirects=False,
                               timeout=10)
    _error_page(r, 400, MISSING_CLIENT)
    assert _code_keys(world) == before


@pytest.mark.parametrize("pool_id,message", [
    ("local_AAAAAAAAA", "Unknown user pool."),
    ("local_" + "A" * 100, "Unknown user pool."),
    ("%00", "Unknown user pool."),
    ("..", "This page does not exist."),  # the client drops the dot segment: /oauth2/authorize
], ids=["unknown", "overlong", "nul", "dot-dot"])
def test_authorize_unknown_pool_answers_404(world, pool_id, message):
    r = requests.get(f"{world.broker.base_url}/{pool_id}/oauth2/authorize", params=world.conf.authorize_params(),
                     allow_redirects=False, timeout=10)
    _error_page(r, 404, message)


def _redirected_id(who: str, extra: dict) -> str:
    """The same in every process that collects it (xdist compares): the random challenge named, not shown."""
    shown = "-".join(f"{k}={'CHALLENGE' if v == CHALLENGE else v}" for k, v in extra.items())
    return f"{who}-{shown[:40] or 'none'}"


@pytest.mark.parametrize("who,extra,error", REDIRECTED, ids=[_redirected_id(w, e) for w, e, _ in REDIRECTED])
def test_authorize_bad_parameters_redirect_with_error_and_state(world, who, extra, error):
    rp = getattr(world, who)
    params = {k: v for k, v in rp.authorize_params(**extra).items() if v is not None}
    before = _code_keys(world)
    r = rp.browser.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    _redirect_error(r, error, params["state"])
    assert _code_keys(world) == before  # the signed-in browser got no code


def test_authorize_state_is_echoed_encoded_never_spliced(world):
    state = "x&code=FAKE&error=none#frag\r\nSet-Cookie: evil=1"
    r = world.conf.authorize(state=state, scope="openid admin")
    _redirect_error(r, "invalid_scope", state)
    r = world.conf.authorize(state=state, prompt="none")
    answer = query_of(r.headers["Location"])
    assert answer["state"] == state and answer["code"] != "FAKE" and "error" not in answer
    assert "#" not in r.headers["Location"] and "evil" not in r.headers.get("Set-Cookie", "")


def test_authorize_overlong_state_shows_error_page(world):
    before = _code_keys(world)
    _error_page(world.conf.authorize(state="s" * 3000), 400, "The state parameter is invalid.")
    assert _code_keys(world) == before


def test_token_missing_code_verifier_is_refused_and_burns_the_code(world):
    rows = _refresh_rows(world)
    code, verifier = _code(world.pub)
    _oauth_error(world.pub.exchange(code), 400, "invalid_request")
    _oauth_error(world.pub.exchange(code, verifier), 400, "invalid_grant")  # one presentation per code
    assert _refresh_rows(world) == rows


def test_token_wrong_code_verifier_is_invalid_grant(world):
    rows = _refresh_rows(world)
    code, verifier = _code(world.pub)
    _oauth_error(world.pub.exchange(code, pkce()[0]), 400, "invalid_grant")
    _oauth_error(world.pub.exchange(code, verifier), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_token_verifier_for_a_code_issued_without_challenge_is_refused(world):
    code, _ = _code(world.conf)
    _oauth_error(world.conf.exchange(code, pkce()[0]), 400, "invalid_request")


def test_reused_code_revokes_tokens(world):
    code, _ = _code(world.conf)
    r = world.conf.exchange(code)
    assert r.status_code == 200, r.text
    first = r.json()
    assert world.conf.userinfo(first["access_token"]).status_code == 200
    _oauth_error(world.conf.exchange(code), 400, "invalid_grant")
    _oauth_error(world.conf.refresh(first["refresh_token"]), 400, "invalid_grant")
    r = world.conf.userinfo(first["access_token"])
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    # a third presentation changes nothing either
    _oauth_error(world.conf.exchange(code), 400, "invalid_grant")


def test_expired_code_is_invalid_grant(world, make_broker, tmp_path):
    """A second node on the same database and Redis, with codes that live 1 s (code_ttl
    comes from the settings file)."""
    config = tmp_path / "short-codes.toml"
    config.write_text("code_ttl = 1\n")
    node = make_broker(database_url=world.broker.env["DATABASE_URL"], redis_url=world.broker.env["REDIS_URL"],
                       BROKER_CONFIG=str(config))
    rp = RelyingParty(node.base_url, world.pool, world.conf.client_id, world.conf.client_secret)
    code, _ = _sign_in(rp, "alice")
    assert rp.exchange(code).status_code == 200  # in time: fine
    code, _ = _code(rp)
    time.sleep(2.1)
    rows = _refresh_rows(world)
    _oauth_error(rp.exchange(code), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_code_of_another_client_is_invalid_grant(world):
    rows = _refresh_rows(world)
    code, _ = _code(world.conf)  # issued to the confidential client
    r = requests.post(world.pub.config["token_endpoint"], timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "client_id": world.pub.client_id,
        "code_verifier": pkce()[0]})
    _oauth_error(r, 400, "invalid_grant")
    # and the other way round: a public client's code with its verifier, presented by the confidential client
    code, verifier = _code(world.pub)
    _oauth_error(world.conf.exchange(code, verifier), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_code_of_another_pool_is_invalid_grant_and_stays_usable_at_home(world):
    code, _ = _code(world.conf)
    _oauth_error(world.other.exchange(code), 400, "invalid_grant")
    assert world.conf.exchange(code).status_code == 200  # codes are pool-scoped: the home pool never saw it


@pytest.mark.parametrize("redirect_uri", [None, CALLBACK + "/", "http://evil.example/callback"],
                         ids=["missing", "trailing-slash", "other-host"])
def test_token_wrong_redirect_uri_is_invalid_grant(world, redirect_uri):
    rows = _refresh_rows(world)
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code}
    if redirect_uri is not None:
        data["redirect_uri"] = redirect_uri
    _oauth_error(world.conf.token(**data), 400, "invalid_grant")
    assert _refresh_rows(world) == rows


def test_token_wrong_client_secret_is_invalid_client_and_keeps_the_code(world):
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    endpoint = world.conf.config["token_endpoint"]
    r = requests.post(endpoint, data=data, auth=(world.conf.client_id, world.conf.client_secret + "x"), timeout=10)
    _oauth_error(r, 401, "invalid_client")
    r = requests.post(endpoint, data={**data, "client_id": world.conf.client_id, "client_secret": "wrong"}, timeout=10)
    _oauth_error(r, 401, "invalid_client")
    # authentication comes first: the code was not consumed by the failed attempts
    assert world.conf.exchange(code).status_code == 200


def test_confidential_client_cannot_authenticate_with_none(world):
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "client_id": world.conf.client_id}
    r = requests.post(world.conf.config["token_endpoint"], data=data, timeout=10)
    _oauth_error(r, 401, "invalid_client")
    assert world.conf.exchange(code).status_code == 200


@pytest.mark.parametrize("grant_type", ["password", "implicit", "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                        "authorization_code ", "x" * 500])
def test_token_unknown_grant_type_is_unsupported(world, grant_type):
    _oauth_error(world.conf.token(grant_type=grant_type), 400, "unsupported_grant_type")


def test_token_client_credentials_for_a_code_only_client_is_unauthorized(world):
    _oauth_error(world.conf.token(grant_type="client_credentials"), 400, "unauthorized_client")


def test_token_endpoint_refuses_get_with_405_json(world):
    r = requests.get(world.conf.config["token_endpoint"], params={"grant_type": "client_credentials"}, timeout=10)
    assert r.status_code == 405, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error"] == "invalid_request" and "POST" in r.headers["Allow"]


def test_token_endpoint_refuses_a_huge_body_with_413(world):
    rows = _refresh_rows(world)
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK, "pad": "a" * (65 * 1024)}
    r = requests.post(world.conf.config["token_endpoint"], data=data,
                      auth=(world.conf.client_id, world.conf.client_secret), timeout=10)
    assert r.status_code == 413, r.text
    assert r.headers["Content-Type"].startswith("application/json") and "access_token" not in r.json()
    assert _refresh_rows(world) == rows
    assert world.conf.exchange(code).status_code == 200  # the code was never read


@pytest.mark.parametrize("header", [
    "Basic !!!not-base64!!!", _basic(b"no-colon"), _basic(b":"), _basic(b"\xff\xfe:\xff"), _basic(b"%ff%fe:%00"),
    "Basic " + "A" * 8000, "Bearer abc", "Basic", "Digest username=x", "Basic " + _basic(b"a:b"),
], ids=["not-base64", "no-colon", "empty-pair", "not-utf8", "percent-junk", "long", "bearer", "bare", "digest",
        "doubled"])
def test_token_garbage_authorization_header_is_invalid_client(world, header):
    code, _ = _code(world.conf)
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK}
    r = requests.post(world.conf.config["token_endpoint"], data=data, headers={"Authorization": header}, timeout=10)
    _oauth_error(r, 401, "invalid_client")
    assert world.conf.exchange(code).status_code == 200


def test_refresh_token_of_another_client_is_invalid_grant(world):
    tokens = _tokens(world.conf)
    r = requests.post(world.pub.config["token_endpoint"], timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": world.pub.client_id})
    _oauth_error(r, 400, "invalid_grant")
    _oauth_error(world.other.refresh(tokens["refresh_token"]), 400, "invalid_grant")  # nor another pool
    assert world.conf.refresh(tokens["refresh_token"]).status_code == 200  # still good for its own client
    assert world.conf.userinfo(tokens["access_token"]).status_code == 200


@pytest.mark.parametrize("endpoint", ["revocation_endpoint", "introspection_endpoint"])
def test_revoke_and_introspect_refuse_garbage_client_authentication(world, endpoint):
    tokens = _tokens(world.conf)
    for header in (_basic(b"\xff\xfe:\xff"), "Basic !!!", _basic(world.conf.client_id.encode() + b":wrong")):
        r = requests.post(world.conf.config[endpoint], data={"token": tokens["refresh_token"]},
                          headers={"Authorization": header}, timeout=10)
        _oauth_error(r, 401, "invalid_client")
    assert world.conf.refresh(tokens["refresh_token"]).status_code == 200  # not revoked


@pytest.mark.parametrize("kind", FORGERIES)
def test_userinfo_refuses_forged_tokens(world, genuine, forged, kind):
    _refused(world.conf.userinfo(forged[kind]))
    assert world.conf.userinfo(genuine["access_token"]).status_code == 200  # the genuine one still works


def test_userinfo_forgery_helpers_are_sound(world, genuine):
    """Control: the pool's own key with unchanged claims makes a token the server accepts, so
    the refusals above are due to what each forgery changed."""
    header, claims, _ = _split(genuine["access_token"])
    remade = jwt.encode(claims, _pool_private_key(world, header["kid"]), "RS256", headers={"kid": header["kid"]})
    assert world.conf.userinfo(remade).status_code == 200


def test_userinfo_refuses_id_token_and_tokens_of_another_pool(world, genuine):
    _refused(world.conf.userinfo(genuine["id_token"]))
    foreign = _tokens(world.other)
    assert world.other.userinfo(foreign["access_token"]).status_code == 200  # valid at home
    _refused(world.conf.userinfo(foreign["access_token"]))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "bearer x.y.z", "Bearer a.b.c.d"])
def test_userinfo_refuses_missing_or_malformed_authorization(world, header):
    headers = {} if header is None else {"Authorization": header}
    r = requests.get(world.conf.config["userinfo_endpoint"], headers=headers, timeout=10)
    assert r.status_code == 401, r.text
    assert r.json()["error"] in {"invalid_request", "invalid_token"}
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("params", [
    {"logout_uri": "http://evil.example/bye"},
    {"logout_uri": "http://localhost:9000/bye.evil.com"},
    {"logout_uri": "http://localhost:9000/bye/../evil"},
    {"logout_uri": "http://localhost:9000/bye?next=http://evil.example"},
    {"logout_uri": "http://localhost:9001/bye"},
    {"logout_uri": "//evil.com"},
    {"logout_uri": "javascript:alert(document.cookie)"},
    {"post_logout_redirect_uri": "http://evil.example/bye"},
], ids=["other-host", "prefix-trick", "dot-dot", "query", "other-port", "protocol-relative", "javascript",
        "oidc-param"])
def test_logout_unregistered_uri_shows_error_page_and_keeps_session(world, params):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    r = rp.browser.get(rp.config["end_session_endpoint"], params={"client_id": rp.client_id, **params},
                       allow_redirects=False, timeout=10)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


@pytest.mark.parametrize("client_id,message", [(None, MISSING_CLIENT), ("unknown", UNKNOWN_CLIENT)])
def test_logout_without_a_known_client_shows_error_page_and_keeps_session(world, client_id, message):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    params = {"logout_uri": LOGOUT, **({"client_id": client_id} if client_id else {})}
    r = rp.browser.get(rp.config["end_session_endpoint"], params=params, allow_redirects=False, timeout=10)
    _error_page(r, 400, message)
    assert _session_alive(rp)


def test_logout_uri_of_another_client_is_refused(world):
    rp = _fresh(world.conf)  # the confidential client registered no logout URL
    _sign_in(rp, "alice")
    r = rp.browser.get(rp.config["end_session_endpoint"], params={"client_id": rp.client_id, "logout_uri": LOGOUT},
                       allow_redirects=False, timeout=10)
    _error_page(r, 400, BAD_LOGOUT)
    assert _session_alive(rp)


def test_logout_registered_uri_redirects_and_ends_session(world):
    rp = _fresh(world.pub)
    _sign_in(rp, "alice")
    r = rp.browser.get(rp.config["end_session_endpoint"],
                       params={"client_id": rp.client_id, "logout_uri": LOGOUT, "state": "a&b=c"},
                       allow_redirects=False, timeout=10)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.split("?")[0] == LOGOUT and query_of(location) == {"state": "a&b=c"}
    assert not _session_alive(rp)


def test_token_and_userinfo_errors_have_one_shape(world):
    """RFC 6749 §5.2 and RFC 6750 §3: {"error", "error_description"} and nothing else, never
    cached, whether Authlib, Flask or the userInfo view refuses."""
    rp = world.conf
    token, userinfo = rp.config["token_endpoint"], rp.config["userinfo_endpoint"]
    refusals = {
        "no grant_type": requests.post(token, data={}, timeout=10),
        "unknown grant": requests.post(token, data={"grant_type": "nope"}, timeout=10),
        "unknown client": requests.post(token, data={"grant_type": "authorization_code", "code": "x"},
                                        auth=("nobody", "x"), timeout=10),
        "wrong secret": requests.post(token, data={"grant_type": "authorization_code", "code": "x"},
                                      auth=(rp.client_id, "wrong"), timeout=10),
        "bad code": rp.exchange("not-a-code"),
        "GET token": requests.get(token, timeout=10),
        "revoke anonymously": requests.post(rp.config["revocation_endpoint"], data={"token": "x"}, timeout=10),
        "no bearer": requests.get(userinfo, timeout=10),
        "bad bearer": requests.get(userinfo, headers={"Authorization": "Bearer abc"}, timeout=10),
    }
    for name, r in refusals.items():
        assert r.headers["Content-Type"] == "application/json", name
        assert r.headers["Cache-Control"] == "no-store" and r.headers["Pragma"] == "no-cache", name
        body = r.json()
        assert body.keys() == {"error", "error_description"}, (name, body)
        assert body["error_description"] and "[" not in body["error_description"], (name, body)
    assert refusals["unknown grant"].json()["error"] == "unsupported_grant_type"
    assert refusals["wrong secret"].headers["WWW-Authenticate"].startswith('Basic error="invalid_client"')
    for name in ("no bearer", "bad bearer"):
        r = refusals[name]
        assert r.headers["WWW-Authenticate"] == (f'Bearer error="{r.json()["error"]}", '
                                                 f'error_description="{r.json()["error_description"]}"')
