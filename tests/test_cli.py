"""The admin CLI's contract (DESIGN.md): with --json a command prints one JSON document in
Cognito's shapes; bad input prints one line on stderr, exits 2 and writes nothing (checked
with the list commands). No server is needed: the CLI works on the database directly."""
from __future__ import annotations

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import Broker, broker_env, free_port

CALLBACK = "http://localhost:9000/callback"
PASSWORD = "Corr3ct-Horse!"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Broker:
    tmp = tmp_path_factory.mktemp("cli")
    port = free_port()  # only for BROKER_BASE_URL: nothing listens there
    return Broker(base_url=f"http://127.0.0.1:{port}", env=broker_env(tmp, f"sqlite:///{tmp}/cli.db", None, port))


@pytest.fixture(scope="module")
def seeded(cli: Broker) -> dict[str, Any]:
    """A pool with a group "staff" and a user "existing" (and no client)."""
    pool_id = cli.pool()
    cli.cli("group", "create", "--pool", pool_id, "--name", "staff")
    user = cli.cli("user", "create", "--pool", pool_id, "--username", "Existing", "--password", PASSWORD,
                   "--email", "existing@example.com", "--attribute", "custom:tier=7", "--group", "staff",
                   "--confirmed", "--json")
    return {"pool": pool_id, "user": _one_document(user)}


def _run_all(cli: Broker, commands: list[tuple[str, ...]]) -> list[subprocess.CompletedProcess]:
    """Independent commands, each a process of its own, run side by side (SQLite in WAL mode)."""
    with ThreadPoolExecutor(len(commands)) as executor:
        return list(executor.map(lambda args: cli.cli(*args, check=False, process=True), commands))


def _one_document(result: subprocess.CompletedProcess) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    return json.loads(lines[0])


def _refused(results: list[subprocess.CompletedProcess], cases: list[tuple[tuple[str, ...], str]]) -> None:
    for result, (args, expected) in zip(results, cases):
        what = " ".join(args)
        assert result.returncode == 2, f"{what}: exit {result.returncode}, stderr {result.stderr!r}"
        assert result.stdout == "", f"{what}: printed {result.stdout!r}"
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: stderr {result.stderr!r}"
        assert expected in lines[0], f"{what}: {lines[0]!r} does not say {expected!r}"
        assert "Traceback" not in result.stderr


def test_create_commands_print_one_json_document_in_cognito_shapes(cli, seeded):
    created = _one_document(cli.cli("pool", "create", "--name", "Acme", "--json"))
    assert re.fullmatch(r"local_[A-Za-z0-9]{9}", created["Id"]), created
    assert created["Name"] == "Acme" and created["Issuer"] == f"{cli.base_url}/{created['Id']}"
    listed, client = (_one_document(r) for r in _run_all(cli, [
        ("pool", "list", "--json"),
        ("client", "create", "--pool", created["Id"], "--name", "web", "--callback-url", CALLBACK, "--secret", "--json"),
    ]))
    assert {"Id": created["Id"], "Name": "Acme", "Issuer": created["Issuer"]} in listed["UserPools"]
    assert re.fullmatch(r"[a-z0-9]{26}", client["ClientId"]) and len(client["ClientSecret"]) >= 40
    user = seeded["user"]
    assert user["Username"] == "existing" and user["UserStatus"] == "CONFIRMED"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", user["Sub"])


def test_bad_pool_input_exits_2_with_one_line_and_writes_nothing(cli):
    cases = [(("pool", "create", "--name", "bad-mfa", "--mfa", "MAYBE"), "--mfa"),
             (("pool", "create", "--name", "bad-length", "--password-min-length", "3"),
              "password minimum length must be between 6 and 99")]
    _refused(_run_all(cli, [args for args, _ in cases]), cases)
    names = {p["Name"] for p in _one_document(cli.cli("pool", "list", "--json"))["UserPools"]}
    assert not names & {"bad-mfa", "bad-length"}


CLIENT_CASES = [
    (("--callback-url", "http://evil.com/cb"), "http is allowed only for localhost"),
    (("--callback-url", "javascript:alert(1)"), "scheme javascript is not allowed"),
    (("--callback-url", CALLBACK, "--logout-url", "http://evil.com/bye"), "http is allowed only for localhost"),
    (("--callback-url", CALLBACK, "--scope", "openid admin:all"), "unknown scope 'admin:all'"),
    (("--flow", "client_credentials"), "needs a client secret (--secret)"),
]


def test_bad_client_input_exits_2_with_one_line_and_writes_nothing(cli, seeded):
    pool = seeded["pool"]
    cases = [(("client", "create", "--pool", pool, "--name", f"bad-{i}", *extra), expected)
             for i, (extra, expected) in enumerate(CLIENT_CASES)]
    cases.append((("client", "create", "--pool", "local_XXXXXXXXX", "--name", "lost", "--callback-url", CALLBACK),
                  "no user pool 'local_XXXXXXXXX'"))
    _refused(_run_all(cli, [args for args, _ in cases]), cases)
    assert _one_document(cli.cli("client", "list", "--pool", pool, "--json"))["UserPoolClients"] == []


USER_CASES = [
    (("--username", "weak", "--password", "password"), "Password must"),
    (("--username", "grouped", "--password", PASSWORD, "--group", "nosuchgroup"), "no group 'nosuchgroup'"),
    (("--username", "attr", "--password", PASSWORD, "--attribute", "noequals"), "--attribute must be name=value"),
    (("--username", "Existing", "--password", "An0ther-Passw0rd!", "--email", "mallory@example.com"),
     "user 'existing' already exists"),
]


def test_bad_user_input_exits_2_with_one_line_and_writes_nothing(cli, seeded):
    pool = seeded["pool"]
    cases = [(("user", "create", "--pool", pool, *extra), expected) for extra, expected in USER_CASES]
    cases.append((("user", "create", "--pool", "local_XXXXXXXXX", "--username", "lost", "--password", PASSWORD),
                  "no user pool 'local_XXXXXXXXX'"))
    _refused(_run_all(cli, [args for args, _ in cases]), cases)
    users = _one_document(cli.cli("user", "list", "--pool", pool, "--json"))["Users"]
    assert [(u["Username"], u["Sub"], u["Groups"]) for u in users] == [("existing", seeded["user"]["Sub"], ["staff"])]
    attributes = {a["Name"]: a["Value"] for a in users[0]["Attributes"]}
    assert attributes["email"] == "existing@example.com" and attributes["custom:tier"] == "7"
