"""``broker client create/update --auth-flow`` (Cognito's ExplicitAuthFlows, checked against
the enum of AWS's own model) and ``broker client rotate-secret``; a client's secret is kept
sealed so that the JSON API can check ``SECRET_HASH`` with it."""
from __future__ import annotations

from typing import Any

from broker.sealing import Sealer
from broker.store import repo
from broker.store.db import Database
from broker.store.models import AppClient
from broker.userpool import client_auth
from tests.conftest import Broker
from tests.rp import CALLBACK
from tests.test_cli import _one_document, _refused, cli  # noqa: F401 (cli is a fixture)

DEFAULTS = ["ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]


def _describe(broker: Broker, pool: str, client_id: str) -> dict[str, Any]:
    return broker.cli_json("client", "describe", "--pool", pool, "--client", client_id)["UserPoolClient"]


def _create(broker: Broker, pool: str, *args: str) -> dict[str, Any]:
    return broker.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *args)


def _row(broker: Broker, client_id: str) -> tuple[str | None, str | None]:
    """The client's stored secret hash and the secret unsealed with the deployment's key."""
    db = Database(broker.env["DATABASE_URL"], Sealer(broker.env["BROKER_SECRET_KEY"]))
    try:
        with db.session() as session:
            row = session.get(AppClient, client_id)
            secret = session.info["sealer"].unseal("client-secret", row.secret_sealed, bound_to=client_id)
            return row.secret_hash, secret.decode() if secret is not None else None
    finally:
        db.dispose()


def test_auth_flows_default_to_cognitos_and_are_set_and_replaced(cli: Broker) -> None:
    pool = cli.pool()
    plain = _create(cli, pool)["ClientId"]
    assert _describe(cli, pool, plain)["ExplicitAuthFlows"] == DEFAULTS

    chosen = _create(cli, pool, "--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH",
                     "--auth-flow", "ALLOW_USER_PASSWORD_AUTH")["ClientId"]
    before = _describe(cli, pool, chosen)
    assert before["ExplicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_PASSWORD_AUTH"]
    listed = {c["ClientId"]: c for c in cli.cli_json("client", "list", "--pool", pool)["UserPoolClients"]}
    assert listed[chosen]["ExplicitAuthFlows"] == before["ExplicitAuthFlows"]
    assert listed[plain]["ExplicitAuthFlows"] == DEFAULTS

    printed = _one_document(cli.cli("client", "update", "--pool", pool, "--client", chosen,
                                    "--auth-flow", "ALLOW_USER_SRP_AUTH", "--auth-flow", "ALLOW_USER_AUTH", "--json"))
    after = _describe(cli, pool, chosen)
    assert printed == {"UserPoolClient": after}
    assert after == {**before, "ExplicitAuthFlows": ["ALLOW_USER_AUTH", "ALLOW_USER_SRP_AUTH"]}
    cli.cli("client", "update", "--pool", pool, "--client", chosen, "--name", "renamed")
    assert _describe(cli, pool, chosen)["ExplicitAuthFlows"] == after["ExplicitAuthFlows"]  # kept when not given


def test_unknown_or_deprecated_auth_flows_are_refused_and_nothing_is_written(cli: Broker) -> None:
    pool = cli.pool()
    client_id = _create(cli, pool, "--auth-flow", "ALLOW_USER_SRP_AUTH")["ClientId"]
    before = cli.cli_json("client", "list", "--pool", pool)
    cases = [
        (("create", "--auth-flow", "NOPE"), "unknown auth flow 'NOPE'"),
        (("create", "--auth-flow", "allow_user_srp_auth"), "unknown auth flow"),
        (("create", "--auth-flow", "USER_PASSWORD_AUTH"), "use ALLOW_USER_PASSWORD_AUTH"),
        (("create", "--auth-flow", "ALLOW_USER_SRP_AUTH", "--auth-flow", "ADMIN_NO_SRP_AUTH"), "deprecated"),
        (("update", "--client", client_id, "--auth-flow", "CUSTOM_AUTH_FLOW_ONLY"), "use ALLOW_CUSTOM_AUTH"),
        (("update", "--client", client_id, "--auth-flow", ""), "unknown auth flow ''"),
    ]
    results = []
    for args, _expected in cases:
        command, rest = args[0], args[1:]
        extra = ("--name", "bad", "--callback-url", CALLBACK) if command == "create" else ()
        results.append(cli.cli("client", command, "--pool", pool, *extra, *rest, check=False))
    _refused(results, cases)
    assert cli.cli_json("client", "list", "--pool", pool) == before


def test_every_allow_flow_of_the_model_is_accepted() -> None:
    names = client_auth.auth_flow_names()
    assert {"ALLOW_USER_SRP_AUTH", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_CUSTOM_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_AUTH"} <= set(names)
    assert not set(names) & set(client_auth.LEGACY_AUTH_FLOWS)
    assert client_auth.check_auth_flows(list(names)) == list(names)


def test_secret_is_kept_sealed_and_rotation_replaces_it(cli: Broker) -> None:
    pool = cli.pool()
    made = _create(cli, pool, "--secret")
    client_id, secret = made["ClientId"], made["ClientSecret"]
    assert _row(cli, client_id) == (repo.sha256(secret), secret)

    rotated = _one_document(cli.cli("client", "rotate-secret", "--pool", pool, "--client", client_id, "--json"))
    assert rotated["ClientId"] == client_id and rotated["ClientSecret"] not in (None, secret)
    assert _row(cli, client_id) == (repo.sha256(rotated["ClientSecret"]), rotated["ClientSecret"])
    assert _describe(cli, pool, client_id)["HasSecret"] is True

    public = _create(cli, pool)["ClientId"]
    cases = [(("rotate-secret", "--client", public), "has no secret"),
             (("rotate-secret", "--client", "nosuchclient"), "no app client 'nosuchclient'")]
    _refused([cli.cli("client", a[0], "--pool", pool, *a[1:], check=False) for a, _e in cases], cases)
    assert _row(cli, public) == (None, None)
