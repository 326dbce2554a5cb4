"""Facebook Login and the Graph API's ``/me`` on loopback, speaking Facebook's protocol:
https://developers.facebook.com/docs/facebook-login/guides/advanced/manual-flow

- ``/v19.0/dialog/oauth``: a login form (the user types a username), then a redirect to the
  registered ``redirect_uri`` with ``code`` and ``state`` (and Facebook's ``#_=_``), or
  ``error=access_denied&error_reason=user_denied`` when the user cancels;
- ``/v19.0/oauth/access_token`` (GET or POST: client_id, client_secret, redirect_uri, code)
  → ``{"access_token", "token_type": "bearer", "expires_in"}``; a code works once;
- ``/me`` and ``/v19.0/me`` (``fields``, ``access_token``, ``appsecret_proof``): the fields
  asked for; a missing or wrong ``appsecret_proof`` is refused, as an app with "Require App
  Secret" does, in Graph's error shape ``{"error": {"message", "type", "code", "fbtrace_id"}}``
  (unless ``require_proof`` is off: an app without that setting, whose tokens a backend that
  holds no secret checks, as Cognito identity pools do);
- ``/app`` and ``/v19.0/app`` (``access_token``): the app the token was issued to (``id``,
  ``name``).

Example::

    with running_facebook() as fb:
        app_id, secret = fb.register(callback_url)
        fb.add_user("alice", id="10158", name="Alice", email="alice@example.org")
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request

from tests.peers.social import LOGIN_FORM, Served, running

VERSION = "v19.0"
#: ``access_denied``: the user cancels; ``down``: every endpoint answers 503;
#: ``other_secret``: Graph checks appsecret_proof against a secret we do not hold.
MISBEHAVIOURS = frozenset({"access_denied", "down", "other_secret"})


@dataclass
class App:
    app_id: str
    app_secret: str
    redirect_uri: str


def graph_error(message: str, kind: str, code: int, status: int = 400) -> tuple[Response, int]:
    return jsonify(error={"message": message, "type": kind, "code": code,
                          "fbtrace_id": secrets.token_urlsafe(8)}), status


class FacebookStandIn(Served):
    def __init__(self) -> None:
        self.apps: dict[str, App] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.codes: dict[str, tuple[str, str, str]] = {}  # code → app_id, redirect_uri, username
        self.tokens: dict[str, tuple[str, str, float]] = {}  # token → app_id, username, expires
        self.misbehave: str | None = None
        #: "Require App Secret": /me refuses calls without appsecret_proof.
        self.require_proof = True
        #: The query of every Graph /me call, as received.
        self.graph_calls: list[dict[str, str]] = []
        self.app = Flask(__name__)
        self._routes()

    def urls(self) -> dict[str, str]:
        """The connector options that point a Facebook IdP here."""
        return {"authorize_url": f"{self.base_url}/{VERSION}/dialog/oauth",
                "token_url": f"{self.base_url}/{VERSION}/oauth/access_token", "userinfo_url": f"{self.base_url}/{VERSION}/me"}

    def register(self, redirect_uri: str) -> tuple[str, str]:
        app = App(str(secrets.randbelow(10**15) + 10**15), secrets.token_hex(16), redirect_uri)
        self.apps[app.app_id] = app
        return app.app_id, app.app_secret

    def add_user(self, username: str, **fields: Any) -> None:
        self.users[username] = fields

    def dialog(self) -> Any:
        args = request.args
        app = self.apps.get(args.get("client_id", ""))
        if app is None or args.get("redirect_uri") != app.redirect_uri:
            return graph_error("Invalid redirect_uri or app id", "OAuthException", 191)
        state = args.get("state", "")
        if self.misbehave == "access_denied":
            query = {"error": "access_denied", "error_code": "200", "error_description": "Permissions error",
                     "error_reason": "user_denied", "state": state}
            return redirect(f"{app.redirect_uri}?{urlencode(query)}#_=_")
        username = request.form.get("username", "")
        if request.method == "GET" or username not in self.users:
            return Response(LOGIN_FORM, 200 if request.method == "GET" else 401, content_type="text/html")
        code = secrets.token_urlsafe(40)
        self.codes[code] = (app.app_id, app.redirect_uri, username)
        return redirect(f"{app.redirect_uri}?{urlencode({'code': code, 'state': state})}#_=_")

    def access_token(self) -> Any:
        values = request.values
        app = self.apps.get(values.get("client_id", ""))
        if app is None or not hmac.compare_digest(values.get("client_secret", "").encode(), app.app_secret.encode()):
            return graph_error("Error validating client secret.", "OAuthException", 1)
        issued = self.codes.pop(values.get("code", ""), None)
        if issued is None or issued[0] != app.app_id or issued[1] != values.get("redirect_uri"):
            return graph_error("Invalid verification code format.", "OAuthException", 100)
        token = secrets.token_urlsafe(48)
        self.tokens[token] = (app.app_id, issued[2], time.time() + 5183944)
        return jsonify(access_token=token, token_type="bearer", expires_in=5183944)

    def me(self) -> Any:
        self.graph_calls.append(request.args.to_dict())
        token = request.args.get("access_token") or request.headers.get("Authorization", "").removeprefix("Bearer ")
        grant = self.tokens.get(token)
        if grant is None or grant[2] < time.time():
            return graph_error("Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        secret = self.apps[grant[0]].app_secret if self.misbehave != "other_secret" else secrets.token_hex(16)
        proof = request.args.get("appsecret_proof")
        if not proof and not self.require_proof:
            return self._fields(grant[1])
        if not proof:
            return graph_error("API calls from the server require an appsecret_proof argument",
                               "GraphMethodException", 100)
        expected = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(proof.encode(), expected.encode()):
            return graph_error("Invalid appsecret_proof provided in the API argument", "GraphMethodException", 100)
        return self._fields(grant[1])

    def _fields(self, username: str) -> Any:
        user = self.users[username]
        fields = [f for f in request.args.get("fields", "id,name").split(",") if f]
        return jsonify({f: self._field(user, f) for f in dict.fromkeys(["id", *fields]) if f in user})

    def app_of_token(self) -> Any:
        grant = self.tokens.get(request.args.get("access_token", ""))
        if grant is None or grant[2] < time.time():
            return graph_error("Invalid OAuth access token - Cannot parse access token", "OAuthException", 190)
        return jsonify(id=grant[0], name=f"App {grant[0]}")

    @staticmethod
    def _field(user: dict[str, Any], name: str) -> Any:
        if name == "picture":
            return {"data": {"height": 50, "is_silhouette": False, "url": user["picture"], "width": 50}}
        return user[name]

    def _routes(self) -> None:
        app = self.app

        @app.before_request
        def down() -> Any:
            if self.misbehave == "down":
                return graph_error("Service temporarily unavailable", "OAuthException", 2, 503)
            return None

        app.add_url_rule("/favicon.ico", "favicon", lambda: Response(status=204))
        app.add_url_rule(f"/{VERSION}/dialog/oauth", "dialog", self.dialog, methods=["GET", "POST"])
        app.add_url_rule(f"/{VERSION}/oauth/access_token", "token", self.access_token, methods=["GET", "POST"])
        app.add_url_rule("/me", "me", self.me)
        app.add_url_rule(f"/{VERSION}/me", "me_versioned", self.me)
        app.add_url_rule("/app", "app", self.app_of_token)
        app.add_url_rule(f"/{VERSION}/app", "app_versioned", self.app_of_token)



def running_facebook() -> AbstractContextManager[FacebookStandIn]:
    return running(FacebookStandIn())
