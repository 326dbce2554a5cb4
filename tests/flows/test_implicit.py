"""The implicit grant (``response_type=token``) as Cognito answers it, for a client allowed
it only: tokens in the fragment (never the query), an ID token for ``openid`` with the
``nonce`` sent and an ``at_hash``, no refresh token; errors in the fragment too; no PKCE
parameters; the token endpoint grants such a client nothing."""
from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from tests.conftest import Broker
from tests.flows.hostile import PASSWORD, S256
from tests.rp import CALLBACK, RelyingParty, query_of


@dataclass
class Clients:
    broker: Broker
    pool: str
    implicit: RelyingParty
    code: RelyingParty


@pytest.fixture(scope="module")
def clients(shared_broker: Broker) -> Clients:
    b = shared_broker
    pool = b.pool()
    b.cli("user", "create", "--pool", pool, "--username", "alice", "--password", PASSWORD, "--email",
          "alice@example.com", "--confirmed")
    implicit = b.cli_json("client", "create", "--pool", pool, "--name", "legacy", "--callback-url", CALLBACK,
                          "--flow", "implicit")
    code = b.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    return Clients(b, pool, RelyingParty(b.base_url, pool, implicit["ClientId"]),
                   RelyingParty(b.base_url, pool, code["ClientId"]))


def _fragment(location: str) -> dict[str, str]:
    parts = urlsplit(location)
    assert parts.query == "", location  # nothing in the query: it reaches the app's server and its logs
    return {k: v[0] for k, v in parse_qs(parts.fragment).items()}


def _sign_in(rp: RelyingParty, **extra: str) -> tuple[dict[str, str], requests.Response]:
    params = rp.authorize_params(response_type="token", **extra)
    r = rp.browser.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    page = rp.follow(r)
    return params, rp.post_form(page, {"username": "alice", "password": PASSWORD})


def test_discovery_lists_token_among_response_types(clients):
    config = clients.implicit.config
    assert "token" in config["response_types_supported"] and "fragment" in config["response_modes_supported"]
    assert "implicit" in config["grant_types_supported"]


def test_tokens_come_in_the_fragment_with_no_refresh_token(clients):
    rp = clients.implicit
    params, r = _sign_in(rp)
    assert r.status_code == 302 and r.headers["Location"].startswith(CALLBACK + "#"), r.headers.get("Location")
    answer = _fragment(r.headers["Location"])
    assert set(answer) == {"access_token", "id_token", "token_type", "expires_in", "state"}, answer
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == "3600" and answer["state"] == params["state"]
    claims = rp.verify(answer["id_token"], rp.client_id)
    assert claims["nonce"] == params["nonce"] and claims["sid"]
    digest = hashlib.sha256(answer["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    access = rp.verify(answer["access_token"])
    assert access["client_id"] == rp.client_id and access["token_use"] == "access"
    assert rp.userinfo(answer["access_token"]).json()["username"] == "alice"
    # a second request in the same browser is answered from the session, again by fragment
    r = rp.authorize(response_type="token", prompt="none")
    assert "access_token" in _fragment(r.headers["Location"])


def test_without_openid_there_is_no_id_token(clients):
    _params, r = _sign_in(RelyingParty(clients.broker.base_url, clients.pool, clients.implicit.client_id),
                          scope="email")
    assert set(_fragment(r.headers["Location"])) == {"access_token", "token_type", "expires_in", "state"}


def test_the_token_endpoint_grants_an_implicit_client_nothing(clients):
    rp = clients.implicit
    for data in ({"grant_type": "authorization_code", "code": "x", "redirect_uri": CALLBACK},
                 {"grant_type": "refresh_token", "refresh_token": "x"}):
        r = rp.token(**data)
        assert r.status_code == 400 and r.json()["error"] == "unauthorized_client", r.text


def test_a_client_without_the_flow_gets_its_error_in_the_fragment_and_no_token(clients):
    rp = clients.code
    r = rp.authorize(response_type="token", **S256)
    answer = _fragment(r.headers["Location"])
    assert answer["error"] == "unauthorized_client" and "access_token" not in answer


@pytest.mark.parametrize("extra", [S256, {"code_challenge": S256["code_challenge"]},
                                   {"code_challenge_method": "S256"}], ids=["both", "challenge", "method"])
def test_pkce_parameters_with_response_type_token_are_refused(clients, extra):
    r = clients.implicit.authorize(response_type="token", **extra)
    answer = _fragment(r.headers["Location"])
    assert answer["error"] == "invalid_request" and "code_challenge" in answer["error_description"]
    assert "access_token" not in answer


def test_prompt_none_without_a_session_answers_login_required_in_the_fragment(clients):
    rp = RelyingParty(clients.broker.base_url, clients.pool, clients.implicit.client_id)
    r = rp.authorize(response_type="token", prompt="none", state="st")
    assert _fragment(r.headers["Location"]) == {"error": "login_required", "error_description": "The user is not "
                                                "signed in.", "state": "st"}


def test_a_code_request_by_an_implicit_only_client_is_refused(clients):
    r = clients.implicit.authorize(**S256)
    answer = query_of(r.headers["Location"])
    assert answer["error"] == "unauthorized_client" and "code" not in answer


def test_taking_the_flow_away_mid_sign_in_issues_nothing(clients):
    b = clients.broker
    client = b.cli_json("client", "create", "--pool", clients.pool, "--name", "moving", "--callback-url", CALLBACK,
                        "--flow", "implicit", "--flow", "code")["ClientId"]
    rp = RelyingParty(b.base_url, clients.pool, client)
    r = rp.browser.get(rp.config["authorization_endpoint"], params=rp.authorize_params(response_type="token"),
                       allow_redirects=False, timeout=10)
    page = rp.follow(r)
    b.cli("client", "update", "--pool", clients.pool, "--client", client, "--flow", "code")
    r = rp.post_form(page, {"username": "alice", "password": PASSWORD})
    answer = _fragment(r.headers["Location"])
    assert answer["error"] == "unauthorized_client" and "access_token" not in answer


def test_the_state_is_echoed_encoded_in_the_fragment(clients):
    state = "a&access_token=FAKE#x=" + secrets.token_hex(2)
    _params, r = _sign_in(RelyingParty(clients.broker.base_url, clients.pool, clients.implicit.client_id),
                          state=state)
    answer = _fragment(r.headers["Location"])
    assert answer["state"] == state and answer["access_token"] != "FAKE"
