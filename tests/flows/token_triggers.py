"""What the PreTokenGeneration and trigger-machinery tests share: a server whose workers
import ``tests.trigger_handlers``, a pool and app client with a trigger set by the CLI, a
loopback webhook receiver, token claims, audit events and metrics."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.aws import api_broker
from tests.rp import CALLBACK, RelyingParty, pkce

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Corr3ct-Horse!"
HANDLERS = "python:tests.trigger_handlers"
METRICS_TOKEN = "metrics-token-for-trigger-tests"
API_FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")


@contextmanager
def trigger_broker(tmp: Path, redis_url: str, **env: str) -> Iterator[Any]:
    """A server (SQLite, the given Redis) that can import the test handlers."""
    with api_broker(tmp, redis_url, PYTHONPATH=str(ROOT), BROKER_METRICS_TOKEN=METRICS_TOKEN, **env) as broker:
        yield broker


@dataclass
class Site:
    """A pool with one user (``ann``, in groups ``staff`` then ``readers``) and one app client
    for both doors (the hosted UI and the JSON API)."""

    server: Any
    pool: str
    client_id: str
    client_secret: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def trigger(self, target: str | None, version: str | None = None) -> None:
        """Set (or, with None, remove) the pool's PreTokenGeneration trigger by the CLI."""
        args = ["pool", "update", "--pool", self.pool, "--trigger", f"PreTokenGeneration={target or ''}"]
        if version:
            args += ["--pre-token-generation-version", version]
        self.server.cli(*args)

    def rp(self) -> RelyingParty:
        return RelyingParty(self.server.base_url, self.pool, self.client_id, self.client_secret)


def site(server: Any, *client_args: str, user_args: tuple[str, ...] = ("--confirmed",)) -> Site:
    pool = server.pool()
    server.cli("group", "create", "--pool", pool, "--name", "staff", "--precedence", "1",
               "--role-arn", "arn:aws:iam::123456789012:role/staff")
    server.cli("group", "create", "--pool", pool, "--name", "readers", "--precedence", "5")
    server.cli("user", "create", "--pool", pool, "--username", "ann", "--password", PASSWORD,
               "--email", "ann@example.com", "--attribute", "given_name=Ann", "--group", "staff",
               "--group", "readers", *user_args)
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             *API_FLOWS, "--auth-flow", "ALLOW_USER_SRP_AUTH", *client_args)
    return Site(server, pool, client["ClientId"], client.get("ClientSecret"))


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (tests/rp.py verifies signatures where that matters)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in(idp: Any, client_id: str, username: str = "ann", password: str = PASSWORD, **more: Any) -> dict:
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password}, **more)


def hosted_tokens(s: Site, scope: str = "openid email profile") -> dict[str, Any]:
    """The hosted sign-in (requests driving the form) and the code's exchange."""
    rp = s.rp()
    verifier, challenge = pkce()
    _params, code = rp.sign_in("ann", PASSWORD, scope=scope, code_challenge=challenge, code_challenge_method="S256")
    assert code, "no code came back"
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


def trigger_events(server: Any, pool: str, count: int) -> list[dict[str, Any]]:
    """The pool's ``Trigger`` audit events, newest first (``broker events list``), once there
    are ``count`` of them: the server stores them a moment after the request (its journal)."""
    deadline = time.monotonic() + 5
    while True:
        found = server.cli_json("events", "list", "--pool", pool, "--limit", "200")["Events"]
        events = [e for e in found if e["EventType"] == "Trigger"]
        if len(events) >= count or time.monotonic() > deadline:
            assert len(events) == count, events
            return events
        time.sleep(0.1)


def metric(server: Any, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when absent)."""
    r = requests.get(f"{server.base_url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
                     timeout=10)
    assert r.status_code == 200, r.text
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


# -- a webhook receiver on loopback ------------------------------------------------------

@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    connection: tuple[str, int]

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    def signed_by(self, secret: str) -> bool:
        timestamp = self.headers["X-Cognate-Timestamp"]
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["X-Cognate-Signature"], f"sha256={expected}")


class Receiver:
    """An HTTP/1.1 server in a thread; ``answer(event)`` gives ``(status, body)``."""

    def __init__(self, answer: Callable[[dict[str, Any]], tuple[int, Any]]) -> None:
        self.answer = answer
        self.received: list[Received] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append(Received(dict(self.headers), body, self.client_address))
                status, answer = outer.answer(json.loads(body))
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tokens"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
