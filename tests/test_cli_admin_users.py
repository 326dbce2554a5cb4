"""The CLI commands over the functions the admin API calls: ``user set-password``,
``user confirm``, ``user list --filter``, ``user unlink`` and ``broker group ...``; bad
input is one line on stderr, exit 2, nothing written. No server: the CLI works on the
database directly."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Broker, broker_env, free_port

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Broker:
    tmp = tmp_path_factory.mktemp("cli-admin-users")
    port = free_port()  # only for BROKER_BASE_URL: nothing listens there
    return Broker(base_url=f"http://127.0.0.1:{port}", env=broker_env(tmp, f"sqlite:///{tmp}/cli.db", None, port))


@pytest.fixture
def pool(cli: Broker) -> str:
    pool = cli.pool()
    for name in ("ann", "bob"):
        cli.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD, "--confirmed",
                "--email", f"{name}@example.com")
    return pool


def refused(cli: Broker, *args: str) -> str:
    result = cli.cli(*args, check=False)
    assert result.returncode == 2 and result.stdout == "" and len(result.stderr.splitlines()) == 1, result
    return result.stderr


def users(cli: Broker, pool: str, *args: str) -> dict[str, Any]:
    return {u["Username"]: u for u in cli.cli_json("user", "list", "--pool", pool, *args)["Users"]}


def test_set_password_makes_it_temporary_or_permanent(cli: Broker, pool: str) -> None:
    out = cli.cli_json("user", "set-password", "--pool", pool, "--username", "ann", "--password", "Temp-0rary-Pass!")
    assert out["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    out = cli.cli_json("user", "set-password", "--pool", pool, "--username", "ann", "--password", "N3w-Password!",
                       "--permanent")
    assert out["UserStatus"] == "CONFIRMED"
    assert "Password must" in refused(cli, "user", "set-password", "--pool", pool, "--username", "ann",
                                      "--password", "short", "--permanent")
    assert "no user 'nobody'" in refused(cli, "user", "set-password", "--pool", pool, "--username", "nobody",
                                         "--password", "N3w-Password!")


def test_confirm_only_an_unconfirmed_user(cli: Broker, pool: str) -> None:
    assert "Current status is CONFIRMED" in refused(cli, "user", "confirm", "--pool", pool, "--username", "ann")


def test_user_list_filters(cli: Broker, pool: str) -> None:
    cli.cli("user", "disable", "--pool", pool, "--username", "bob")
    assert list(users(cli, pool, "--filter", 'status = "Disabled"')) == ["bob"]
    assert list(users(cli, pool, "--filter", 'email ^= "an"')) == ["ann"]
    assert list(users(cli, pool)) == ["ann", "bob"]
    assert "Error while parsing filter" in refused(cli, "user", "list", "--pool", pool, "--filter", "email = ann")


def test_groups_and_members(cli: Broker, pool: str) -> None:
    cli.cli("group", "create", "--pool", pool, "--name", "staff", "--precedence", "2")
    assert "already exists" in refused(cli, "group", "create", "--pool", pool, "--name", "staff")
    cli.cli("group", "add-user", "--pool", pool, "--name", "staff", "--username", "ann")
    assert users(cli, pool)["ann"]["Groups"] == ["staff"]
    members = cli.cli_json("group", "list-users", "--pool", pool, "--name", "staff")["Users"]
    assert [u["Username"] for u in members] == ["ann"]
    updated = cli.cli_json("group", "update", "--pool", pool, "--name", "staff", "--description", "Staff")
    assert (updated["Description"], updated["Precedence"]) == ("Staff", 2)
    cli.cli("group", "remove-user", "--pool", pool, "--name", "staff", "--username", "ann")
    assert users(cli, pool)["ann"]["Groups"] == []
    cli.cli("group", "delete", "--pool", pool, "--name", "staff")
    assert cli.cli_json("group", "list", "--pool", pool)["Groups"] == []
    assert "Group not found" in refused(cli, "group", "delete", "--pool", pool, "--name", "staff")


def test_link_and_unlink(cli: Broker, pool: str) -> None:
    cli.cli("idp", "create", "--pool", pool, "--type", "OIDC", "--name", "Corp", "--issuer", "https://id.example.com",
            "--client-id", "app", "--client-secret", "s3cret")
    cli.cli("user", "link", "--pool", pool, "--user", "ann", "--provider", "Corp", "--subject", "c-1")
    identities = next(a["Value"] for a in users(cli, pool)["ann"]["Attributes"] if a["Name"] == "identities")
    assert json.loads(identities)[0]["userId"] == "c-1"
    out = cli.cli_json("user", "unlink", "--pool", pool, "--provider", "Corp", "--subject", "c-1")
    assert out == {"Username": "ann", "ProviderName": "Corp", "Enabled": True}
    assert "identities" not in {a["Name"] for a in users(cli, pool)["ann"]["Attributes"]}
    assert "no user has the Corp identity" in refused(cli, "user", "unlink", "--pool", pool, "--provider", "Corp",
                                                      "--subject", "c-1")
