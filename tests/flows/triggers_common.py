"""What the trigger tests share: a server whose workers import ``tests.trigger_handlers``
(and keep their journal of events, :mod:`tests.trigger_handlers.record`), a pool and app
client with triggers set by the CLI, users, sign-ins and token claims, the events the
handlers saw, audit events and metrics, and a webhook receiver on loopback."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.aws import api_broker
from tests.rp import CALLBACK, RelyingParty, pkce
from tests.smtp import MailServer, broker_with_mail
from tests.trigger_handlers.record import VARIABLE

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Corr3ct-Horse!"
HANDLERS = "python:tests.trigger_handlers"
METRICS_TOKEN = "metrics-token-for-trigger-tests"
#: The app client's flows unless a test names others: both doors, a password or SRP.
API_FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH")
STAFF_ROLE = "arn:aws:iam::123456789012:role/staff"


def handler_env(journal: Path | None = None) -> dict[str, str]:
    """What a test server needs to run the test handlers (and keep their journal in ``journal``)."""
    return {"PYTHONPATH": str(ROOT), **({VARIABLE: str(journal)} if journal is not None else {})}


# -- fixtures a test module imports (``from ... import journal  # noqa: F401 (a fixture)``) ---

@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file the module's handlers note their events in (tests/trigger_handlers/record.py)."""
    return tmp_path_factory.mktemp("journal") / "events.jsonl"


@pytest.fixture(scope="module")
def served_with_mail(tmp_path_factory: pytest.TempPathFactory, redis_url: str,
                     journal: Path) -> Iterator[tuple[Any, MailServer]]:
    """A server running the test handlers whose mail a real SMTP server receives (its custom
    senders tried again within a second), and that SMTP server."""
    with broker_with_mail(tmp_path_factory.mktemp("triggers"), redis_url, **handler_env(journal),
                          BROKER_DELIVERY_RETRY_SECONDS="1") as pair:
        yield pair


@pytest.fixture(scope="module")
def server(served_with_mail: tuple[Any, MailServer]) -> Any:
    return served_with_mail[0]


@pytest.fixture(scope="module")
def mail(served_with_mail: tuple[Any, MailServer]) -> MailServer:
    return served_with_mail[1]


@contextmanager
def trigger_broker(tmp: Path, redis_url: str, journal: Path | None = None, **env: str) -> Iterator[Any]:
    """A server (SQLite, the given Redis) that can import the test handlers."""
    with api_broker(tmp, redis_url, **handler_env(journal), BROKER_METRICS_TOKEN=METRICS_TOKEN, **env) as broker:
        yield broker


@dataclass
class Site:
    """A pool of its own and one app client for both doors (the hosted UI and the JSON API)."""

    server: Any
    pool: str
    client_id: str
    client_secret: str | None = None

    @property
    def ids(self) -> tuple[str, str]:
        return self.pool, self.client_id

    def triggers(self, *triggers: str, version: str | None = None) -> None:
        """Set ``NAME=TARGET`` (``NAME=`` removes it) by the CLI; ``version``: PreTokenGeneration's."""
        args = [a for t in triggers for a in ("--trigger", t)]
        self.server.cli("pool", "update", "--pool", self.pool, *args,
                        *(("--pre-token-generation-version", version) if version else ()))

    def trigger(self, target: str | None, version: str | None = None) -> None:
        """Set (or, with None, remove) the pool's PreTokenGeneration trigger."""
        self.triggers(f"PreTokenGeneration={target or ''}", version=version)

    def rp(self) -> RelyingParty:
        return RelyingParty(self.server.base_url, self.pool, self.client_id, self.client_secret)


def site(server: Any, *triggers: str, flows: tuple[str, ...] | None = API_FLOWS, pool_args: tuple[str, ...] = (),
         client_args: tuple[str, ...] = (), version: str | None = None, users: tuple[str, ...] = ()) -> Site:
    """A pool (``pool_args`` as ``broker pool create`` takes them) with ``triggers`` set, an
    app client allowing ``flows`` (None: the hosted pages' defaults) and confirmed ``users``."""
    pool = server.pool(*pool_args)
    flow_args = [a for f in flows for a in ("--auth-flow", f)] if flows is not None else []
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK,
                             *flow_args, *client_args)
    made = Site(server, pool, client["ClientId"], client.get("ClientSecret"))
    if triggers or version:
        made.triggers(*triggers, version=version)
    for name in users:
        add_user(server, pool, name)
    return made


def add_user(server: Any, pool: str, name: str, *extra: str, password: str = PASSWORD) -> None:
    """A user ``name`` with an email ``name@example.com`` (``extra``: ``broker user create``'s
    options; confirmed unless they say otherwise)."""
    confirmed = () if "--suppress-invitation" in extra else ("--confirmed",)
    server.cli("user", "create", "--pool", pool, "--username", name, "--password", password,
               "--email", f"{name}@example.com", *confirmed, *extra)


def with_ann(s: Site, *extra: str) -> Site:
    """``s`` with the user ``ann`` (given_name Ann) in the groups ``staff`` (its role, the
    first by precedence) and ``readers``."""
    s.server.cli("group", "create", "--pool", s.pool, "--name", "staff", "--precedence", "1",
                 "--role-arn", STAFF_ROLE)
    s.server.cli("group", "create", "--pool", s.pool, "--name", "readers", "--precedence", "5")
    add_user(s.server, s.pool, "ann", "--attribute", "given_name=Ann", "--group", "staff", "--group", "readers",
             *extra)
    return s


def users(server: Any, pool: str) -> dict[str, dict[str, Any]]:
    """The pool's users by name (``broker user list``)."""
    return {u["Username"]: u for u in server.cli_json("user", "list", "--pool", pool)["Users"]}


def attributes(user: dict[str, Any]) -> dict[str, str]:
    """A listed user's attributes (Cognito's ``Attributes``) by name."""
    return {a["Name"]: a["Value"] for a in user["Attributes"]}


def email(address: str) -> list[dict[str, str]]:
    """``UserAttributes`` holding an email address."""
    return [{"Name": "email", "Value": address}]


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (tests/rp.py verifies signatures where that matters)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def sign_in(idp: Any, client_id: str, username: str = "ann", password: str = PASSWORD, **more: Any) -> dict:
    """InitiateAuth USER_PASSWORD_AUTH (``more``: its other members, ClientMetadata say)."""
    return idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": username, "PASSWORD": password}, **more)


def hosted_tokens(s: Site, scope: str = "openid email profile") -> dict[str, Any]:
    """The hosted sign-in of ann (requests driving the form) and the code's exchange."""
    rp = s.rp()
    verifier, challenge = pkce()
    _params, code = rp.sign_in("ann", PASSWORD, scope=scope, code_challenge=challenge, code_challenge_method="S256")
    assert code, "no code came back"
    r = rp.exchange(code, verifier)
    assert r.status_code == 200, r.text
    return r.json()


# -- what the handlers saw, and what the server counted ---------------------------------

def events(journal: Path, pool: str, source: str | None = None) -> list[dict[str, Any]]:
    """The events ``pool``'s handlers noted (of trigger source ``source``), oldest first."""
    lines = journal.read_text(encoding="utf-8").splitlines() if journal.exists() else []
    found = [json.loads(line) for line in lines]
    return [e for e in found if e["userPoolId"] == pool and source in (None, e["triggerSource"])]


def wait_events(journal: Path, pool: str, source: str, count: int = 1, timeout: float = 10) -> list[dict[str, Any]]:
    """The events of ``source``, once ``count`` of them arrived (custom senders run after the answer)."""
    deadline = time.monotonic() + timeout
    while len(found := events(journal, pool, source)) < count:
        assert time.monotonic() < deadline, f"no {source} event within {timeout} s"
        time.sleep(0.05)
    return found


def trigger_events(server: Any, pool: str, count: int) -> list[dict[str, Any]]:
    """The pool's ``Trigger`` audit events, newest first (``broker events list``), once there
    are ``count`` of them: the server stores them a moment after the request (its journal)."""
    deadline = time.monotonic() + 5
    while True:
        found = server.cli_json("events", "list", "--pool", pool, "--limit", "200")["Events"]
        audited = [e for e in found if e["EventType"] == "Trigger"]
        if len(audited) >= count or time.monotonic() > deadline:
            assert len(audited) == count, audited
            return audited
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
        """Whether the signature is ``secret``'s, checked as a receiver checks it."""
        timestamp = self.headers["X-Cognate-Timestamp"]
        expected = hmac.new(secret.encode(), timestamp.encode() + b"." + self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers["X-Cognate-Signature"], f"sha256={expected}")


class Receiver:
    """An HTTP/1.1 server in a thread; ``answer(event)`` gives ``(status, body)``."""

    def __init__(self, answer: Callable[[dict[str, Any]], tuple[int, Any]] = lambda event: (200, event)) -> None:
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

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                """Quiet: a caller that gave up (a timeout) closed the connection first."""

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/tokens"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def wait(self, count: int = 1, timeout: float = 10) -> list[Received]:
        """What arrived, once ``count`` requests did (events sent after the answer)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"no {count} requests within {timeout} s"
            time.sleep(0.05)
        return self.received

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
