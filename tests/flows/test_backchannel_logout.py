"""OpenID Connect Back-Channel Logout 1.0 over real HTTP: a loopback app server receives the
logout tokens, which are checked with joserfc against the published JWKS, claim by claim.
A hosted sign-out tells the apps the browser's session signed in (with its ``sid``); a
sign-out everywhere tells every app the user held refresh tokens of (``sub`` only); an app
that is down never holds up a sign-out."""
from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy.orm import Session

from broker import cli
from broker.store import repo
from tests.aws import cognito_idp
from tests.conftest import _CLI_LOCK, Broker, free_port
from tests.peers.logout_receiver import LogoutReceiver, Post, verified_logout_token
from tests.rp import CALLBACK, RelyingParty, pkce, query_of

PASSWORD = "Corr3ct-Horse!"
LOGOUT = "http://localhost:9000/bye"


@pytest.fixture(scope="module")
def receiver() -> Iterator[LogoutReceiver]:
    with LogoutReceiver() as r:
        yield r


@dataclass
class Apps:
    broker: Broker
    pool: str
    receiver: LogoutReceiver


def _apps(broker: Broker, receiver: LogoutReceiver) -> Apps:
    pool = broker.pool()
    for name in ("alice", "bob"):
        broker.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD,
                   "--email", f"{name}@example.com", "--confirmed")
    return Apps(broker, pool, receiver)


@pytest.fixture
def apps(shared_broker: Broker, receiver: LogoutReceiver) -> Apps:
    return _apps(shared_broker, receiver)


@pytest.fixture
def quick_apps(make_broker: Callable[..., Broker], tmp_path: Path, redis_url: str, receiver: LogoutReceiver) -> Apps:
    """A server of its own that tries a failed delivery again after 1 s, then 2 s."""
    broker = make_broker(database_url=f"sqlite:///{tmp_path}/quick.db", redis_url=redis_url,
                         BROKER_DELIVERY_RETRY_SECONDS="1")
    return _apps(broker, receiver)


@contextlib.contextmanager
def _cli_session(broker: Broker) -> Iterator[Session]:
    """A database session as the ``broker`` command opens one (:func:`broker.cli._store`, which
    tells the apps of the sign-outs it commits), in this process and with the server's settings."""
    with _CLI_LOCK, pytest.MonkeyPatch.context() as mp:
        for name in [n for n in os.environ if n not in broker.env]:
            mp.delenv(name)
        for name, value in broker.env.items():
            mp.setenv(name, value)
        with cli._store() as (_settings, session):
            yield session


def _client(apps: Apps, name: str, told: bool = True) -> RelyingParty:
    extra = ("--backchannel-logout-url", apps.receiver.url(f"/{apps.pool}/{name}")) if told else ()
    out = apps.broker.cli_json("client", "create", "--pool", apps.pool, "--name", name, "--callback-url", CALLBACK,
                               "--logout-url", LOGOUT, "--secret", *extra)
    return RelyingParty(apps.broker.base_url, apps.pool, out["ClientId"], out["ClientSecret"])


def _tokens(rp: RelyingParty, username: str | None = None, scope: str = "openid email") -> dict[str, Any]:
    """Tokens through the hosted UI: a sign-in with the form, or the browser's session."""
    if username is not None:
        _params, code = rp.sign_in(username, PASSWORD, scope=scope)
    else:
        r = rp.authorize(prompt="none", scope=scope)
        code = query_of(r.headers["Location"]).get("code")
    assert code
    r = rp.exchange(code)
    assert r.status_code == 200, r.text
    return r.json()


def _posts(apps: Apps, name: str) -> list[Post]:
    return apps.receiver.of(f"/{apps.pool}/{name}")


def _claims(apps: Apps, rp: RelyingParty, post: Post) -> dict[str, Any]:
    assert post.headers["Content-Type"] == "application/x-www-form-urlencoded", post.headers
    assert set(post.form) == {"logout_token"}, post.form
    return verified_logout_token(post.form["logout_token"], rp.issuer, rp.config["jwks_uri"], rp.client_id)


def test_discovery_says_back_channel_logout_with_sessions_is_supported(apps):
    config = RelyingParty(apps.broker.base_url, apps.pool, "x").config
    assert config["backchannel_logout_supported"] is True
    assert config["backchannel_logout_session_supported"] is True
    assert "sid" in config["claims_supported"]
    assert config["end_session_endpoint"] == f"{apps.broker.base_url}/{apps.pool}/logout"


def test_hosted_logout_tells_each_app_of_the_session_with_sid_and_sub(apps):
    web, api, unused, untold = (_client(apps, "web"), _client(apps, "api"), _client(apps, "unused"),
                                _client(apps, "untold", told=False))
    api.browser = untold.browser = web.browser  # one browser, one hosted session, three apps
    web_tokens = _tokens(web, "alice")
    api_tokens, _untold = _tokens(api), _tokens(untold)
    sid = web.verify(web_tokens["id_token"], web.client_id)["sid"]
    assert web.verify(api_tokens["id_token"], api.client_id)["sid"] == sid  # the session's, for each app
    refreshed = web.refresh(web_tokens["refresh_token"]).json()
    assert web.verify(refreshed["id_token"], web.client_id)["sid"] == sid  # kept by the refresh token

    r = web.browser.get(web.config["end_session_endpoint"], allow_redirects=False, timeout=10,
                        params={"id_token_hint": web_tokens["id_token"], "post_logout_redirect_uri": LOGOUT,
                                "state": "s1"})
    assert r.status_code == 302 and r.headers["Location"] == LOGOUT + "?state=s1", r.text

    apps.receiver.wait(2, path=None)
    sub = web.verify(web_tokens["id_token"], web.client_id)["sub"]
    (to_web,), (to_api,) = _posts(apps, "web"), _posts(apps, "api")
    seen = [_claims(apps, web, to_web), _claims(apps, api, to_api)]
    assert [(c["sub"], c["sid"]) for c in seen] == [(sub, sid), (sub, sid)]
    assert seen[0]["jti"] != seen[1]["jti"]
    assert _posts(apps, "unused") == []  # never signed in by this session
    assert unused.client_id not in {c["aud"] for c in seen}


def test_a_logout_token_is_for_its_app_only(apps):
    """An app checks ``aud``: the token sent to one app is refused by another's check."""
    web, api = _client(apps, "web"), _client(apps, "api")
    api.browser = web.browser
    _tokens(web, "alice")
    _tokens(api)
    web.browser.get(web.config["end_session_endpoint"], params={"client_id": web.client_id, "logout_uri": LOGOUT},
                    allow_redirects=False, timeout=10)  # Cognito's form tells the apps too
    apps.receiver.wait(2)
    (to_web,) = _posts(apps, "web")
    with pytest.raises(Exception):
        verified_logout_token(to_web.form["logout_token"], web.issuer, web.config["jwks_uri"], api.client_id)
    assert _claims(apps, web, to_web)["aud"] == web.client_id


def test_global_sign_out_tells_every_app_with_refresh_tokens_by_sub(apps):
    web, api, never = _client(apps, "web"), _client(apps, "api"), _client(apps, "never")
    tokens = _tokens(web, "alice", scope="openid aws.cognito.signin.user.admin")
    _tokens(api, "alice")  # another browser, another session: the refresh token is what counts
    bob = RelyingParty(apps.broker.base_url, apps.pool, never.client_id, never.client_secret)
    _tokens(bob, "bob")  # bob's session: nothing to do with alice's sign-out

    cognito_idp(apps.broker.base_url).global_sign_out(AccessToken=tokens["access_token"])  # boto3, the JSON API

    apps.receiver.wait(2)
    sub = web.verify(tokens["id_token"])["sub"]
    for rp, name in ((web, "web"), (api, "api")):
        (post,) = _posts(apps, name)
        claims = _claims(apps, rp, post)
        assert claims["sub"] == sub and "sid" not in claims  # every session of the user at that app
    assert _posts(apps, "never") == []
    assert web.refresh(tokens["refresh_token"]).status_code == 400  # and the tokens are over, as before


def test_admin_sign_out_from_the_cli_tells_the_apps_at_once(apps):
    web = _client(apps, "web")
    tokens = _tokens(web, "alice")
    apps.broker.cli("user", "sign-out", "--pool", apps.pool, "--username", "alice")
    (post,) = _posts(apps, "web")  # delivered before the command returned
    assert _claims(apps, web, post)["sub"] == web.verify(tokens["id_token"])["sub"]


def test_a_rolled_back_sign_out_tells_nobody(apps):
    """A sign-out everywhere notes the apps to tell while it revokes; once it is rolled back,
    none is told (not even when the same session goes on to commit other work) and the
    tokens still work. The same sign-out committed tells the app."""
    web = _client(apps, "web")
    tokens = _tokens(web, "alice")
    with _cli_session(apps.broker) as session:
        alice = repo.get_user(session, apps.pool, "alice")
        assert repo.revoke_user_tokens(session, alice) == 1
        assert session.info[repo.SIGNED_OUT] == [[apps.pool, web.client_id, alice.sub]]  # to tell, at the commit
        session.rollback()
        assert repo.get_user(session, apps.pool, "alice").enabled  # more work, then the commit
    assert apps.receiver.wait(1, timeout=2, path=f"/{apps.pool}/web") == []
    assert web.refresh(tokens["refresh_token"]).status_code == 200

    with _cli_session(apps.broker) as session:
        repo.revoke_user_tokens(session, repo.get_user(session, apps.pool, "alice"))
    (post,) = apps.receiver.wait(1, timeout=5, path=f"/{apps.pool}/web")
    assert _claims(apps, web, post)["sub"] == web.verify(tokens["id_token"])["sub"]
    assert web.refresh(tokens["refresh_token"]).status_code == 400


def test_a_failed_delivery_is_tried_three_times_in_all_and_a_refusal_once(quick_apps):
    """A 5xx answer, or none, is tried again (after 1 s, then 2 s here), three times in all
    (§2.8: the OP may retry); a 4xx is the app's refusal, not tried again. Each try is audited."""
    apps = quick_apps
    failing, silent, refusing = _client(apps, "failing"), _client(apps, "silent"), _client(apps, "refusing")
    apps.receiver.status[f"/{apps.pool}/failing"] = 503
    apps.receiver.status[f"/{apps.pool}/silent"] = None
    apps.receiver.status[f"/{apps.pool}/refusing"] = 401
    silent.browser = refusing.browser = failing.browser  # one hosted session, three apps
    _tokens(failing, "alice")
    _tokens(silent)
    _tokens(refusing)

    r = failing.browser.get(failing.config["end_session_endpoint"], allow_redirects=False, timeout=10,
                            params={"client_id": failing.client_id, "logout_uri": LOGOUT})
    assert r.status_code == 302

    for name in ("failing", "silent"):
        apps.receiver.wait(3, timeout=20, path=f"/{apps.pool}/{name}")
    time.sleep(5)  # past when a fourth try would come (4 s after the third)
    assert [len(_posts(apps, name)) for name in ("failing", "silent", "refusing")] == [3, 3, 1]
    events = _wait_events(apps, 7)
    tries = {c.client_id: [e for e in events if e["Details"]["client_id"] == c.client_id]
             for c in (failing, silent, refusing)}
    assert [e["Details"].get("status") for e in tries[failing.client_id]] == [503] * 3
    assert all("reason" in e["Details"] for e in tries[silent.client_id]) and len(tries[silent.client_id]) == 3
    assert [e["Details"]["status"] for e in tries[refusing.client_id]] == [401]
    assert all(e["EventResponse"] == "Fail" for e in events)


def test_an_app_that_is_down_or_refuses_never_holds_up_the_sign_out(apps):
    down = apps.broker.cli_json("client", "create", "--pool", apps.pool, "--name", "down", "--callback-url",
                                CALLBACK, "--logout-url", LOGOUT, "--backchannel-logout-url",
                                f"http://127.0.0.1:{free_port()}/gone")
    refusing = _client(apps, "refusing")
    apps.receiver.status[f"/{apps.pool}/refusing"] = 400
    rp = RelyingParty(apps.broker.base_url, apps.pool, down["ClientId"])
    refusing.browser = rp.browser
    verifier, challenge = pkce()
    _params, code = rp.sign_in("alice", PASSWORD, code_challenge=challenge, code_challenge_method="S256")
    assert rp.exchange(code, verifier).status_code == 200
    _tokens(refusing)

    started = time.monotonic()
    r = rp.browser.get(rp.config["end_session_endpoint"], params={"client_id": rp.client_id, "logout_uri": LOGOUT},
                       allow_redirects=False, timeout=10)
    assert r.status_code == 302 and time.monotonic() - started < 2

    assert len(apps.receiver.wait(1, path=f"/{apps.pool}/refusing")) == 1
    events = _wait_events(apps, 2)
    by_client = {e["Details"]["client_id"]: e for e in events}
    assert by_client[rp.client_id]["EventResponse"] == "Fail" and "reached" in by_client[rp.client_id]["Details"]["reason"]
    assert by_client[refusing.client_id]["EventResponse"] == "Fail"
    assert by_client[refusing.client_id]["Details"]["status"] == 400
    time.sleep(6)  # past the first retry: a refusal is not tried again
    assert len(_posts(apps, "refusing")) == 1


def _wait_events(apps: Apps, count: int, timeout: float = 15) -> list[dict[str, Any]]:
    deadline = time.time() + timeout
    while True:
        out = json.loads(apps.broker.cli("events", "list", "--pool", apps.pool, "--json").stdout)["Events"]
        found = [e for e in out if e["EventType"] == "BackChannelLogout"]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.2)


def test_logout_token_header_names_its_type_and_key(apps):
    web = _client(apps, "web")
    _tokens(web, "alice")
    web.browser.get(web.config["end_session_endpoint"], params={"client_id": web.client_id}, timeout=10)
    (post,) = apps.receiver.wait(1, path=f"/{apps.pool}/web")
    header = jwt.get_unverified_header(post.form["logout_token"])
    jwks = {k["kid"] for k in web.browser.get(web.config["jwks_uri"], timeout=10).json()["keys"]}
    assert header["typ"] == "logout+jwt" and header["kid"] in jwks and header["alg"] == "RS256"
    assert post.headers["User-Agent"].startswith("Cognate")
