"""The token endpoint's lean path (broker/oauth/lean_token.py) answers refresh and
client_credentials grants exactly as the Authlib endpoint behind it would, and passes every
other request on to it untouched: each answer here is set beside the full endpoint's for the
same request, on SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import secrets
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from joserfc import jwt
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import Client

from broker import create_app, load_settings
from broker.oauth import codes
from broker.oauth.issue import new_refresh_token
from broker.oauth.lean_token import _OnDemand
from broker.oauth.tokens import Grant
from broker.store import repo
from broker.store.models import AuditEvent, RefreshToken
from broker.triggers import invoke, journal, settings as trigger_settings
from broker.userpool import admin, app_clients, audit, groups, resource_servers

PASSWORD = "Corr3ct-Horse!"
CALLBACK = "https://app.example.com/cb"
#: What differs between two answers to one request: when and which token, and the request id.
VARYING_CLAIMS = {"jti", "iat", "exp", "at_hash"}
VARYING_HEADERS = {"Content-Length", "X-Request-Id"}


class Site:
    """An app whose token endpoint is reached with (``lean``) or without (``full``) the lean path."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        settings = load_settings({"BROKER_BASE_URL": "https://auth.example.com", "DATABASE_URL": database_url,
                                  "BROKER_DATA_DIR": str(tmp_path), "BROKER_SECRET_KEY": "k" * 40})
        self.app = create_app(settings)
        self.rt = self.app.extensions["broker"]
        self.rt.db.upgrade()
        lean = self.app.extensions["broker.lean_token"]
        self.passed_on: list[str] = []  # requests the lean path handed to the full endpoint
        inner = lean.app

        def full_endpoint(environ: dict, start_response: Any) -> Any:
            self.passed_on.append(environ["PATH_INFO"])
            return inner(environ, start_response)

        lean.app = full_endpoint
        self.lean, self.full = self.app.test_client(), Client(inner)
        with self.rt.db.session() as s:
            pool = admin.create_pool(s, "lean")
            resource_servers.create_resource_server(s, pool.id, "api", "API", ["read", "write"])
            self.web, self.secret = app_clients.create_client(
                s, pool.id, "web", [CALLBACK], secret=True, flows=["code", "client_credentials"],
                scopes=["openid", "email", "profile", "api/read"])
            self.spa, _ = app_clients.create_client(s, pool.id, "spa", [CALLBACK], scopes=["openid", "email"])
            self.spa.rotate_refresh_tokens = False  # (a public client's rotate by default: see below)
            self.rotating, _ = app_clients.create_client(s, pool.id, "rotating", [CALLBACK], scopes=["openid"])
            user = admin.create_user(s, pool.id, "alice", PASSWORD, {"email": "alice@example.com", "name": "Alice"},
                                     confirmed=True)[0]
            for name, precedence, role in (("admins", 1, "arn:aws:iam::123456789012:role/admins"),
                                           ("staff", 2, None)):
                group = groups.create_group(s, pool.id, name, precedence=precedence, role_arn=role)
                repo.add_user_to_group(s, user, group)
            self.pool_id, self.user_id = pool.id, user.id
            self.tokens = {name: self.refresh_token(s, client, user)
                           for name, client in (("web", self.web), ("spa", self.spa), ("rotating", self.rotating))}

    def close(self) -> None:
        """Write what the triggers queued, stop their workers, close the connections."""
        journal.flush()
        with self.rt.db.sessions() as s:
            invoke.of(s).python.close()
        self.rt.db.dispose()

    def refresh_token(self, session: Any, client: Any, user: Any) -> str:
        grant = Grant(issuer="", client_id=client.id, scopes=("openid", "email", "profile"), auth_time=int(time.time()),
                      origin_jti=str(uuid.uuid4()), event_id=str(uuid.uuid4()), amr=("pwd",), sid="s-1")
        return new_refresh_token(session, client, user, grant)

    @property
    def path(self) -> str:
        return f"/{self.pool_id}/oauth2/token"

    def basic(self, client_id: str | None = None, secret: str | None = None) -> dict[str, str]:
        pair = f"{client_id or self.web.id}:{secret or self.secret}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode()}

    def both(self, form: dict[str, str] | str, headers: dict[str, str] | None = None,
             query: str = "") -> tuple[Any, Any]:
        """The same request to the app as deployed and to the full endpoint alone."""
        args = {"data": form, "headers": headers or {}, "query_string": query}
        return self.lean.post(self.path, **args), self.full.post(self.path, **args)

    def claims(self, token: str) -> dict[str, Any]:
        with self.rt.db.sessions() as s:
            keys = self.rt.keys.get(s, self.rt.config.pool(s, self.pool_id))
        return jwt.decode(token, keys.verifying).claims


@pytest.fixture
def site(tmp_path: Path, any_database_url: str) -> Iterator[Site]:
    made = Site(tmp_path, any_database_url)
    yield made
    made.close()


def _same(site: Site, lean: Any, full: Any, varying: set[str] = VARYING_CLAIMS) -> None:
    """Two answers that say the same: status, headers, members, and the tokens' claims
    but for those ``varying`` from one token to the next."""
    assert lean.status_code == full.status_code, (lean.get_data(as_text=True), full.get_data(as_text=True))
    headers = [{k: v for k, v in r.headers.items() if k not in VARYING_HEADERS} for r in (lean, full)]
    assert headers[0] == headers[1]
    ours, theirs = lean.get_json(), full.get_json()
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        if name == "refresh_token":  # (opaque, and new each time)
            assert value and theirs[name] and value != theirs[name]
        elif name.endswith("_token"):
            mine, other = site.claims(value), site.claims(theirs[name])
            assert {k: v for k, v in mine.items() if k not in varying} == \
                {k: v for k, v in other.items() if k not in varying}
        else:
            assert value == theirs[name]


def test_refresh_and_client_credentials_are_answered_here_as_the_full_endpoint_answers(site: Site) -> None:
    requests = [
        ({"grant_type": "refresh_token", "refresh_token": site.tokens["web"]}, site.basic()),
        ({"grant_type": "refresh_token", "refresh_token": site.tokens["web"], "client_id": site.web.id,
          "client_secret": site.secret}, {}),
        ({"grant_type": "refresh_token", "refresh_token": site.tokens["spa"], "client_id": site.spa.id},
         {"Origin": "https://app.example.com"}),
        ({"grant_type": "client_credentials"}, site.basic()),
        ({"grant_type": "client_credentials", "scope": "api/read"}, {**site.basic(), "Origin": "https://x.example"}),
    ]
    for form, headers in requests:
        lean, full = site.both(form, headers)
        assert lean.status_code == 200
        fresh = form["grant_type"] == "client_credentials"  # (each of its tokens starts a family)
        _same(site, lean, full, VARYING_CLAIMS | {"origin_jti", "event_id"} if fresh else VARYING_CLAIMS)
    assert site.passed_on == []  # every one was answered by the lean path
    access = site.claims(site.lean.post(site.path, data=requests[0][0], headers=requests[0][1]).json["access_token"])
    assert access["cognito:groups"] == ["admins", "staff"] and access["amr"] == ["pwd"]
    assert access["scope"] == "openid email profile" and access["username"] == "alice"
    id_token = site.claims(site.lean.post(site.path, data=requests[0][0], headers=requests[0][1]).json["id_token"])
    assert id_token["cognito:preferred_role"] == "arn:aws:iam::123456789012:role/admins"
    assert id_token["email"] == "alice@example.com" and id_token["sid"] == "s-1" and id_token["aud"] == site.web.id


def _counting_sessions(site: Site, monkeypatch: pytest.MonkeyPatch) -> list[Session]:
    """The sessions the app makes from now on, as they are made."""
    made: list[Session] = []
    original = site.rt.db.sessions

    class Counted(sessionmaker):
        def __call__(self, **local: Any) -> Session:
            made.append(session := original(**local))
            return session

    monkeypatch.setattr(site.rt.db, "sessions", Counted(**original.kw))
    return made


def test_grants_whose_pool_client_and_keys_are_cached_open_no_database_session(site: Site, monkeypatch) -> None:
    """Whether the config cache's version was read this request is asked of the lean
    path's own ``info`` until a session is needed; one made later starts from that ``info``
    (the sealer in it)."""
    original = site.rt.db.sessions
    monkeypatch.setattr(site.rt.config, "check_seconds", 3600)  # (the version is read by the first grant only)
    cc = ({"grant_type": "client_credentials", "scope": "api/read"}, site.basic())
    refresh = ({"grant_type": "refresh_token", "refresh_token": site.tokens["web"]}, site.basic())
    assert site.lean.post(site.path, data=cc[0], headers=cc[1]).status_code == 200  # (caches filled)
    made = _counting_sessions(site, monkeypatch)
    for form, headers in (cc, refresh, cc):
        assert site.lean.post(site.path, data=form, headers=headers).status_code == 200
    assert made == [] and site.passed_on == []
    site.rt.config.clear()  # the version is read again: that needs a session, which is then made
    assert site.lean.post(site.path, data=cc[0], headers=cc[1]).status_code == 200
    assert len(made) == 1 and made[0].info["sealer"] is original.kw["info"]["sealer"]

    on_demand = _OnDemand(original)
    on_demand.info["noted"] = True  # before there is a session
    assert on_demand.execute(select(1)).scalar() == 1
    assert on_demand.info["noted"] is True and on_demand.info is on_demand._session.info
    on_demand.close()


def test_a_refresh_with_a_pre_token_trigger_opens_no_session_and_its_audit_row_is_written(
        site: Site, monkeypatch) -> None:
    """The trigger's audit row goes to the engine the lean path would use, asked of it
    without a session being made for that alone."""
    original = site.rt.db.sessions
    with site.rt.db.session() as s:
        trigger_settings.set_triggers(s, repo.get_pool(s, site.pool_id), {
            "PreTokenGeneration": "python:tests.trigger_handlers.tokens_claims:lambda_handler"})
    site.rt.config.clear()
    monkeypatch.setattr(site.rt.config, "check_seconds", 3600)
    form, headers = {"grant_type": "refresh_token", "refresh_token": site.tokens["web"]}, site.basic()
    assert site.lean.post(site.path, data=form, headers=headers).status_code == 200  # (caches filled)
    journal.flush()
    with site.rt.db.session() as s:
        before = len([e for e in audit.list_events(s, site.pool_id) if e.event == "Trigger"])
    made = _counting_sessions(site, monkeypatch)
    answer = site.lean.post(site.path, data=form, headers=headers)
    assert answer.status_code == 200 and made == [] and site.passed_on == []
    monkeypatch.setattr(site.rt.db, "sessions", original)
    assert site.claims(answer.json["id_token"])["tier"] == "gold"  # (the handler ran)
    journal.flush()
    with site.rt.db.session() as s:
        rows = [e for e in audit.list_events(s, site.pool_id) if e.event == "Trigger"]
    assert len(rows) == before + 1
    assert rows[0].details["source"] == "TokenGeneration_RefreshTokens" and rows[0].details["outcome"] == "returned"


def test_every_other_request_is_passed_on_untouched(site: Site) -> None:
    web, spa = site.tokens["web"], site.tokens["spa"]
    with site.rt.db.session() as s:  # an expired token, another user's disabled account, a revoked family
        expired = site.refresh_token(s, site.web, repo.get_user(s, site.pool_id, "alice"))
        s.query(RefreshToken).filter_by(token_hash=repo.sha256(expired)).update(
            {"expires_at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1)})
        bob = admin.create_user(s, site.pool_id, "bob", PASSWORD, {"email": "bob@example.com"}, confirmed=True)[0]
        disabled = site.refresh_token(s, site.web, bob)
        bob.enabled = False
        revoked = site.refresh_token(s, site.web, repo.get_user(s, site.pool_id, "alice"))
        repo.revoke_origin(s, s.query(RefreshToken).filter_by(token_hash=repo.sha256(revoked)).one().origin_jti)
    cases: list[tuple[Any, dict[str, str], str]] = [
        ({"grant_type": "refresh_token", "refresh_token": web}, site.basic(secret="wrong"), ""),
        ({"grant_type": "refresh_token", "refresh_token": web}, {"Authorization": "Basic !!!"}, ""),
        ({"grant_type": "refresh_token", "refresh_token": web}, {"Authorization": "Bearer x"}, ""),
        ({"grant_type": "refresh_token", "refresh_token": web}, {"Authorization": "Basic \xe9\xe9"}, ""),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, site.basic(), ""),
        ({"grant_type": "refresh_token", "refresh_token": spa}, site.basic(), ""),  # another client's
        ({"grant_type": "refresh_token", "refresh_token": expired}, site.basic(), ""),
        ({"grant_type": "refresh_token", "refresh_token": disabled}, site.basic(), ""),
        ({"grant_type": "refresh_token", "refresh_token": revoked}, site.basic(), ""),
        ({"grant_type": "refresh_token", "refresh_token": web, "scope": "openid"}, site.basic(), ""),
        ({"grant_type": "refresh_token", "refresh_token": web, "client_id": site.web.id}, site.basic(), ""),
        ({"grant_type": "refresh_token", "refresh_token": spa, "client_id": site.spa.id, "client_secret": "x"}, {}, ""),
        ({"grant_type": "refresh_token", "refresh_token": web}, site.basic(), "grant_type=refresh_token"),
        ({"grant_type": "refresh_token", "refresh_token": ""}, site.basic(), ""),
        (f"grant_type=refresh_token&refresh_token={web}&refresh_token={spa}", site.basic(), ""),
        ({"grant_type": "client_credentials", "scope": "api/write"}, site.basic(), ""),
        ({"grant_type": "client_credentials", "scope": "openid"}, site.basic(), ""),
        ({"grant_type": "client_credentials", "client_id": site.spa.id}, {}, ""),
        ({"grant_type": "password", "username": "alice", "password": PASSWORD}, site.basic(), ""),
    ]
    for form, headers, query in cases:
        before = len(site.passed_on)
        lean, full = site.both(form, headers, query)
        assert len(site.passed_on) == before + 1, form  # handed on, not answered here
        if lean.status_code == 200:  # a narrower scope (RFC 6749 §6), granted there
            _same(site, lean, full)
        else:
            assert 400 <= lean.status_code == full.status_code < 500 and lean.get_json() == full.get_json(), form
    rotating = {"grant_type": "refresh_token", "refresh_token": site.tokens["rotating"], "client_id": site.rotating.id}
    r = site.lean.post(site.path, data=rotating)  # rotation and its reuse detection are the full endpoint's
    assert r.status_code == 200 and r.json["refresh_token"] and len(site.passed_on) == len(cases) + 1
    assert site.lean.post(site.path, data=rotating).json["error"] == "invalid_grant"  # reused: the family is revoked
    body = json.dumps({"grant_type": "refresh_token", "refresh_token": web})
    lean, full = site.both(body, {**site.basic(), "Content-Type": "application/json"})
    assert lean.status_code == full.status_code == 400 and lean.get_json() == full.get_json()


def test_a_length_that_is_no_number_is_passed_on(site: Site) -> None:
    """A Content-Length of digits that are not ASCII ones (the development server lets it
    through) is the full endpoint's, not a crash here."""
    body = f"grant_type=refresh_token&refresh_token={site.tokens['web']}".encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": site.path, "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "CONTENT_LENGTH": "\u00b2", "wsgi.input": io.BytesIO(body), "QUERY_STRING": "", "SERVER_NAME": "x",
               "SERVER_PORT": "80", "wsgi.url_scheme": "https", "HTTP_AUTHORIZATION": site.basic()["Authorization"]}
    statuses: list[str] = []
    site.app.extensions["broker.lean_token"](environ, lambda status, headers, exc=None: statuses.append(status))
    assert site.passed_on == [site.path] and statuses and not statuses[0].startswith(("2", "5"))


def test_a_pre_token_trigger_runs_once_and_its_refusal_is_answered_as_the_app_answers_it(site: Site) -> None:
    form, headers = {"grant_type": "refresh_token", "refresh_token": site.tokens["web"]}, site.basic()
    with site.rt.db.session() as s:
        trigger_settings.set_triggers(s, repo.get_pool(s, site.pool_id), {
            "PreTokenGeneration": "python:tests.trigger_handlers.tokens_claims:lambda_handler"})
    site.rt.config.clear()
    lean, full = site.both(form, headers)
    _same(site, lean, full)
    claims = site.claims(lean.json["id_token"])
    assert claims["tier"] == "gold" and claims["source"] == "TokenGeneration_RefreshTokens" and "email" not in claims
    with site.rt.db.session() as s:
        trigger_settings.set_triggers(s, repo.get_pool(s, site.pool_id), {
            "PreTokenGeneration": "python:tests.trigger_handlers.misbehaving:refuse"})
    site.rt.config.clear()
    lean, full = site.both(form, headers)
    assert lean.status_code == full.status_code == 400
    assert lean.get_json() == full.get_json() == {
        "error": "invalid_request", "error_description": "PreTokenGeneration failed with error Sign-ups are closed today."}
    _same_headers = [{k: v for k, v in r.headers.items() if k not in VARYING_HEADERS} for r in (lean, full)]
    assert _same_headers[0] == _same_headers[1]
    assert site.passed_on == []


def test_connections_cut_by_the_database_are_replaced_at_once(tmp_path: Path, postgres_url: str) -> None:
    import psycopg

    site = Site(tmp_path, postgres_url)
    try:
        form, headers = {"grant_type": "refresh_token", "refresh_token": site.tokens["web"]}, site.basic()
        assert site.lean.post(site.path, data=form, headers=headers).status_code == 200
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            cut = conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchall()
        assert cut  # the pooled connections were there, and are gone
        for _ in range(3):
            assert site.lean.post(site.path, data=form, headers=headers).status_code == 200
        assert site.passed_on == []  # answered by the lean path, on a new connection
    finally:
        site.close()


def test_unknown_pools_and_custom_domains(tmp_path: Path, any_database_url: str) -> None:
    made = Site(tmp_path, any_database_url)
    try:
        form = {"grant_type": "client_credentials"}
        r = made.lean.post(f"/{'x' * 60}/oauth2/token", data=form, headers=made.basic())
        assert r.status_code == 404 and made.passed_on
        r = made.lean.post("/eu-west-1_nothere/oauth2/token", data=form, headers=made.basic())
        assert r.status_code == 404
    finally:
        made.close()
    settings = {"BROKER_BASE_URL": "https://auth.example.com", "DATABASE_URL": any_database_url,
                "BROKER_DATA_DIR": str(tmp_path), "BROKER_SECRET_KEY": "k" * 40,
                "BROKER_DOMAINS": f"login.example.com={made.pool_id}"}
    app = create_app(load_settings(settings))
    try:
        r = app.test_client().post("/oauth2/token", data=form, headers={**made.basic(), "Host": "login.example.com"})
        assert r.status_code == 200 and r.json["token_type"] == "Bearer"
        r = app.test_client().post("/oauth2/token", data=form, headers={**made.basic(), "Host": "other.example.com"})
        assert r.status_code == 404
    finally:
        app.extensions["broker"].db.dispose()


def test_secrets_never_reach_a_client_that_has_none(site: Site) -> None:
    """A public client's refresh with a made-up secret, and a confidential one's without any,
    are the full endpoint's (invalid_client), never tokens."""
    spa = {"grant_type": "refresh_token", "refresh_token": site.tokens["spa"], "client_id": site.spa.id,
           "client_secret": secrets.token_urlsafe(8)}
    web = {"grant_type": "refresh_token", "refresh_token": site.tokens["web"], "client_id": site.web.id}
    for form in (spa, web):
        lean, full = site.both(form)
        assert lean.status_code == full.status_code == 401
        assert lean.get_json()["error"] == full.get_json()["error"] == "invalid_client"


VERIFIER = "v" * 43 + "-._~0123456789"
SIGNED_IN_AT = int(time.time()) - 10  # (the two codes of one exchange come from one sign-in)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _code(site: Site, client: Any, challenge: str | None = None, method: str | None = "S256", **more: Any) -> str:
    """A code as the hosted sign-in issues it, for alice by default."""
    with site.rt.db.sessions() as s:
        alice = repo.get_user(s, site.pool_id, "alice")
    fields = {"client_id": client.id, "redirect_uri": CALLBACK, "scope": "openid email profile", "user_id": alice.id,
              "auth_time": SIGNED_IN_AT, "nonce": "n-1", "code_challenge": challenge,
              "code_challenge_method": method if challenge else None, "amr": ("pwd",), "epoch": alice.session_epoch,
              "sub": alice.sub, "sid": "s-2", **more}
    return codes.issue(site.rt.state, site.pool_id, 300, **fields)


def _exchange(site: Site, make_code: Any, form: dict[str, str], headers: dict[str, str] | None = None) -> tuple:
    """The same exchange, each endpoint with a code of its own made alike."""
    lean = site.lean.post(site.path, data={**form, "code": make_code()}, headers=headers or {})
    full = site.full.post(site.path, data={**form, "code": make_code()}, headers=headers or {})
    return lean, full


def test_codes_are_exchanged_here_as_the_full_endpoint_exchanges_them(site: Site) -> None:
    base = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    challenge = _challenge(VERIFIER)
    cases = [
        (lambda: _code(site, site.web), base, site.basic()),
        (lambda: _code(site, site.web, challenge), {**base, "code_verifier": VERIFIER}, site.basic()),
        (lambda: _code(site, site.web), {**base, "client_id": site.web.id, "client_secret": site.secret}, {}),
        (lambda: _code(site, site.spa, challenge), {**base, "client_id": site.spa.id, "code_verifier": VERIFIER},
         {"Origin": "https://app.example.com"}),
        (lambda: _code(site, site.spa, VERIFIER, "plain"), {**base, "client_id": site.spa.id,
                                                            "code_verifier": VERIFIER}, {}),
    ]
    for make_code, form, headers in cases:
        lean, full = _exchange(site, make_code, form, headers)
        assert lean.status_code == 200 and lean.json["refresh_token"] and lean.json["id_token"]
        _same(site, lean, full, VARYING_CLAIMS | {"origin_jti", "event_id"})  # (each code starts a family)
    assert site.passed_on == []
    claims = site.claims(lean.json["id_token"])
    assert claims["nonce"] == "n-1" and claims["sid"] == "s-2" and claims["aud"] == site.spa.id
    with site.rt.db.sessions() as s:  # the refresh token and the audit event were committed
        assert s.query(RefreshToken).filter_by(token_hash=repo.sha256(lean.json["refresh_token"])).one()
        issued = s.query(AuditEvent).filter_by(event="TokenIssued").all()
    assert len(issued) == 2 * len(cases) and {e.details["grant_type"] for e in issued} == {"authorization_code"}
    refreshed = site.lean.post(site.path, data={"grant_type": "refresh_token", "client_id": site.spa.id,
                                                "refresh_token": lean.json["refresh_token"]})
    assert refreshed.status_code == 200


def test_codes_the_full_endpoint_refuses_are_passed_on_and_it_answers(site: Site) -> None:
    base = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    challenge = _challenge(VERIFIER)
    with_challenge = lambda: _code(site, site.web, challenge)  # noqa: E731
    cases: list[tuple[Any, dict[str, str], dict[str, str]]] = [
        (with_challenge, {**base, "code_verifier": "w" * 43}, site.basic()),  # the wrong verifier
        (with_challenge, base, site.basic()),  # none
        (with_challenge, {**base, "code_verifier": "short"}, site.basic()),
        (lambda: _code(site, site.web), {**base, "code_verifier": VERIFIER}, site.basic()),  # none was asked for
        (lambda: _code(site, site.spa), {**base, "client_id": site.spa.id}, {}),  # a public client needs PKCE
        (lambda: _code(site, site.web), {**base, "redirect_uri": CALLBACK + "/other"}, site.basic()),
        (lambda: _code(site, site.web), {"grant_type": "authorization_code"}, site.basic()),  # no redirect_uri
        (lambda: _code(site, site.spa, challenge), {**base, "code_verifier": VERIFIER}, site.basic()),  # spa's code
        (lambda: _code(site, site.web, redirect_uri="https://gone.example.com/cb"), base, site.basic()),
        (lambda: "not-a-code", base, site.basic()),
        (lambda: _code(site, site.web), {**base, "scope": "openid"}, site.basic()),
        (lambda: _code(site, site.web), base, site.basic(secret="wrong")),
    ]
    for make_code, form, headers in cases:
        before = len(site.passed_on)
        lean, full = _exchange(site, make_code, form, headers)
        assert len(site.passed_on) == before + 1, form
        if lean.status_code == 200:  # a parameter the grant ignores (scope), accepted there
            _same(site, lean, full, VARYING_CLAIMS | {"origin_jti", "event_id"})
        else:
            assert 400 <= lean.status_code == full.status_code < 500 and lean.get_json() == full.get_json(), form
    used = _code(site, site.web)
    first = site.lean.post(site.path, data={**base, "code": used}, headers=site.basic())
    assert first.status_code == 200 and site.passed_on.count(site.path) == len(cases)
    again = site.lean.post(site.path, data={**base, "code": used}, headers=site.basic())
    assert again.json["error"] == "invalid_grant" and site.passed_on.count(site.path) == len(cases) + 1
    refresh = {"grant_type": "refresh_token", "refresh_token": first.json["refresh_token"]}
    reused = site.lean.post(site.path, data=refresh, headers=site.basic())
    assert reused.json["error"] == "invalid_grant"  # the reuse revoked what the first exchange issued


def test_a_code_whose_user_left_meanwhile_is_answered_here_as_there(site: Site) -> None:
    """Disabled, or signed out everywhere, since the code: the code is consumed and the
    answer is the full endpoint's (invalid_grant); nothing is issued or written."""
    base = {"grant_type": "authorization_code", "redirect_uri": CALLBACK}
    lean_code, full_code = _code(site, site.web), _code(site, site.web)
    with site.rt.db.session() as s:
        repo.get_user(s, site.pool_id, "alice").session_epoch += 1
    lean = site.lean.post(site.path, data={**base, "code": lean_code}, headers=site.basic())
    full = site.full.post(site.path, data={**base, "code": full_code}, headers=site.basic())
    assert lean.status_code == full.status_code == 400 and lean.get_json() == full.get_json()
    headers = [{k: v for k, v in r.headers.items() if k not in VARYING_HEADERS} for r in (lean, full)]
    assert headers[0] == headers[1] and site.passed_on == []
    with site.rt.db.session() as s:
        repo.get_user(s, site.pool_id, "alice").enabled = False
    lean_code, full_code = _code(site, site.web), _code(site, site.web)
    lean = site.lean.post(site.path, data={**base, "code": lean_code}, headers=site.basic())
    full = site.full.post(site.path, data={**base, "code": full_code}, headers=site.basic())
    assert lean.status_code == full.status_code == 400 and lean.get_json() == full.get_json()
    assert site.passed_on == []
    with site.rt.db.sessions() as s:
        assert s.query(AuditEvent).filter_by(event="TokenIssued").count() == 0
    assert site.lean.post(site.path, data={**base, "code": lean_code}, headers=site.basic()).json["error"] == \
        "invalid_grant"  # consumed


def test_a_store_failing_as_a_code_is_consumed_is_answered_503_not_taken_for_a_reuse(site: Site, monkeypatch) -> None:
    """The code swapped out, then the store's answer lost: 503 (try again, with a new sign-in),
    never the reuse alarm the full endpoint would raise on finding the code used."""
    import redis

    swap = site.rt.state.swap

    def lost(key: str, value: dict) -> Any:
        swap(key, value)
        raise redis.exceptions.ConnectionError("connection reset")

    monkeypatch.setattr(site.rt.state, "swap", lost)
    r = site.lean.post(site.path, data={"grant_type": "authorization_code", "redirect_uri": CALLBACK,
                                        "code": _code(site, site.web)}, headers=site.basic())
    assert r.status_code == 503 and r.json["error"] == "temporarily_unavailable" and r.headers["Retry-After"]
    assert site.passed_on == []
    with site.rt.db.sessions() as s:
        assert s.query(AuditEvent).filter_by(event="AuthorizationCodeReuse").count() == 0
