"""``broker pool update|set-mfa|delete`` and ``broker resource-server update|list|delete``:
the same functions as the admin API's UpdateUserPool, SetUserPoolMfaConfig, DeleteUserPool
and resource-server operations, on the database directly. Bad input: one line, exit 2,
nothing written."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Broker, broker_env, free_port

CALLBACK = "http://localhost:9000/callback"


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Broker:
    tmp = tmp_path_factory.mktemp("cli-pools")
    port = free_port()  # only for BROKER_BASE_URL: nothing listens there
    return Broker(base_url=f"http://127.0.0.1:{port}", env=broker_env(tmp, f"sqlite:///{tmp}/cli.db", None, port))


def _describe(cli: Broker, pool: str) -> dict[str, Any]:
    return cli.cli_json("pool", "describe", "--pool", pool)["UserPool"]


def _refused(cli: Broker, *args: str) -> str:
    result = cli.cli(*args, check=False)
    assert result.returncode == 2 and result.stdout == "", result
    [line] = result.stderr.splitlines()
    return line


def test_pool_update_renames_and_closes_self_sign_up(cli):
    pool = cli.pool()
    cli.cli("pool", "update", "--pool", pool, "--name", "renamed", "--no-self-signup")
    shown = _describe(cli, pool)
    assert shown["Name"] == "renamed" and shown["SelfSignUp"] is False
    assert "128" in _refused(cli, "pool", "update", "--pool", pool, "--name", "x" * 129)
    assert _describe(cli, pool)["Name"] == "renamed"


def test_pool_set_mfa_offers_the_methods_given(cli):
    pool = cli.pool()
    out = cli.cli_json("pool", "set-mfa", "--pool", pool, "--mfa", "ON", "--method", "TOTP", "--method", "EMAIL_OTP")
    assert out == {"UserPoolId": pool, "MfaConfiguration": "ON", "Methods": ["TOTP", "EMAIL_OTP"]}
    assert "without any MFA type" in _refused(cli, "pool", "set-mfa", "--pool", pool, "--mfa", "OPTIONAL")
    assert _describe(cli, pool)["MfaConfiguration"] == "ON"


def test_resource_server_update_list_and_delete_withdraw_scopes_from_clients(cli):
    pool = cli.pool()
    cli.cli("resource-server", "create", "--pool", pool, "--identifier", "orders", "--scope", "read", "--scope", "write")
    client = cli.cli_json("client", "create", "--pool", pool, "--name", "worker", "--secret", "--flow",
                          "client_credentials", "--scope", "orders/read orders/write")["ClientId"]
    updated = cli.cli_json("resource-server", "update", "--pool", pool, "--identifier", "orders", "--name", "Orders",
                           "--scope", "write")["ResourceServer"]
    assert updated["Name"] == "Orders" and [s["ScopeName"] for s in updated["Scopes"]] == ["write"]

    def scopes() -> list[str]:
        return cli.cli_json("client", "describe", "--pool", pool, "--client", client)["UserPoolClient"][
            "AllowedOAuthScopes"]

    assert scopes() == ["orders/write"]
    assert "already exists" in _refused(cli, "resource-server", "create", "--pool", pool, "--identifier", "orders",
                                        "--scope", "x")
    assert [rs["Identifier"] for rs in cli.cli_json("resource-server", "list", "--pool", pool)["ResourceServers"]] == \
        ["orders"]
    cli.cli("resource-server", "delete", "--pool", pool, "--identifier", "orders")
    assert cli.cli_json("resource-server", "list", "--pool", pool)["ResourceServers"] == [] and scopes() == []
    assert "no resource server" in _refused(cli, "resource-server", "delete", "--pool", pool, "--identifier", "orders")


def test_pool_delete_removes_the_pool_and_what_it_holds(cli):
    pool = cli.pool()
    cli.cli("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    assert json.loads(cli.cli("pool", "delete", "--pool", pool, "--json").stdout) == {"Id": pool, "Deleted": True}
    assert pool not in [p["Id"] for p in cli.cli_json("pool", "list")["UserPools"]]
    assert "no user pool" in _refused(cli, "client", "list", "--pool", pool)
    assert "no user pool" in _refused(cli, "pool", "delete", "--pool", pool)
