"""Every pool-management operation of the admin API run by the AWS CLI (``aws cognito-idp``,
awscli v1) against a real server, with an admin key in its environment: one row of the
table per operation, each set up over boto3, run by the CLI, and checked by its outcome
(read back over boto3, the token endpoint, the hosted pages or the database)."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from tests.aws import api_broker, refused
from tests.aws_admin import admin, aws_cli, cli_json, rows
from tests.conftest import Broker, start_broker
from tests.rp import CALLBACK, RelyingParty, pkce
from tests.test_branding import png

DOMAIN = "auth.cli.example.test"
CSS = ".submitButton-customizable { background-color: #1a73e8; }"
OIDC = {"client_id": "cid", "client_secret": "csecret", "oidc_issuer": "https://idp.example",
        "authorize_scopes": "openid email"}
WEB = {"CallbackURLs": [CALLBACK], "AllowedOAuthFlows": ["code"], "AllowedOAuthFlowsUserPoolClient": True}


@dataclass
class Site:
    server: Broker
    key: dict[str, str]
    #: The pool the configuration maps DOMAIN to.
    domain_pool: str

    @property
    def idp(self) -> Any:
        return admin(self.server, self.key)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    """A server whose configuration maps DOMAIN to a pool made before it started."""
    tmp = tmp_path_factory.mktemp("admin-awscli")
    first = start_broker(tmp / "setup", database_url=f"sqlite:///{tmp}/api.db", redis_url=redis_url)
    try:
        pool, key = first.pool(), first.cli_json("admin-key", "create")
    finally:
        first.stop()
    with api_broker(tmp, redis_url, BROKER_DOMAINS=f"{DOMAIN}={pool}",
                    BROKER_SECRET_KEY=first.env["BROKER_SECRET_KEY"]) as server:
        yield Site(server, key, pool)


@dataclass
class Case:
    """``setup`` makes what the call needs (ids in a dict), ``args`` the CLI's arguments,
    ``check`` asserts the outcome from the CLI's JSON and the server's state."""

    operation: str
    args: Callable[[dict[str, Any]], list[str]]
    check: Callable[[Site, dict[str, Any], dict[str, Any]], None]
    setup: Callable[[Site], dict[str, Any]] = field(default=lambda site: {"pool": site.server.pool()})


def _client(site: Site, **extra: Any) -> dict[str, Any]:
    pool = site.server.pool()
    made = site.idp.create_user_pool_client(UserPoolId=pool, ClientName="app", **{**WEB, **extra})["UserPoolClient"]
    return {"pool": pool, "client": made["ClientId"], "secret": made.get("ClientSecret")}


def _with_idp(site: Site) -> dict[str, Any]:
    pool = site.server.pool()
    site.idp.create_identity_provider(UserPoolId=pool, ProviderName="Corp", ProviderType="OIDC", ProviderDetails=OIDC)
    return {"pool": pool}


def _with_server(site: Site) -> dict[str, Any]:
    pool = site.server.pool()
    site.idp.create_resource_server(UserPoolId=pool, Identifier="https://api.example", Name="api",
                                    Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    return {"pool": pool}


def _login_page(site: Site, pool: str, client: str) -> str:
    rp = RelyingParty(site.server.base_url, pool, client)
    return rp.follow(rp.authorize(code_challenge=pkce()[1], code_challenge_method="S256")).text


def _count(site: Site, table: str, pool: str) -> int:
    return rows(site.server, f"SELECT count(*) FROM {table} WHERE pool_id = :p", p=pool)[0][0]


CASES = [
    Case("create-user-pool",
         lambda c: ["--pool-name", "cli-pool", "--mfa-configuration", "OPTIONAL",
                    "--policies", json.dumps({"PasswordPolicy": {"MinimumLength": 14}})],
         lambda s, c, out: _assert(s.idp.describe_user_pool(UserPoolId=out["UserPool"]["Id"])["UserPool"], Name="cli-pool",
                                   MfaConfiguration="OPTIONAL", MinimumLength=14),
         setup=lambda site: {}),
    Case("describe-user-pool", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _same(out["UserPool"]["Id"], c["pool"])),
    Case("update-user-pool",
         lambda c: ["--user-pool-id", c["pool"], "--admin-create-user-config", "AllowAdminCreateUserOnly=true",
                    "--policies", json.dumps({"PasswordPolicy": {"MinimumLength": 10}})],
         lambda s, c, out: _same(rows(s.server, "SELECT self_signup FROM user_pools WHERE id = :p", p=c["pool"]),
                                 [(0,)]) or _assert(s.idp.describe_user_pool(UserPoolId=c["pool"])["UserPool"],
                                                    MinimumLength=10)),
    Case("delete-user-pool", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _same(rows(s.server, "SELECT count(*) FROM user_pools WHERE id = :p", p=c["pool"]), [(0,)])),
    Case("list-user-pools", lambda c: ["--max-results", "60"],
         lambda s, c, out: _member(c["pool"], [p["Id"] for p in out["UserPools"]])),
    Case("create-user-pool-client",
         lambda c: ["--user-pool-id", c["pool"], "--client-name", "cli-app", "--generate-secret",
                    "--explicit-auth-flows", "ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
         lambda s, c, out: _same(s.idp.describe_user_pool_client(UserPoolId=c["pool"], ClientId=out["UserPoolClient"][
             "ClientId"])["UserPoolClient"]["ClientSecret"], out["UserPoolClient"]["ClientSecret"])),
    Case("describe-user-pool-client", lambda c: ["--user-pool-id", c["pool"], "--client-id", c["client"]],
         lambda s, c, out: _same(out["UserPoolClient"]["ClientSecret"], c["secret"]),
         setup=lambda site: _client(site, GenerateSecret=True)),
    Case("update-user-pool-client",
         lambda c: ["--user-pool-id", c["pool"], "--client-id", c["client"], "--callback-urls",
                    "http://localhost:9000/new", "--allowed-o-auth-flows", "code",
                    "--allowed-o-auth-flows-user-pool-client", "--allowed-o-auth-scopes", "openid"],
         lambda s, c, out: _same(requests.get(s.server.url(c["pool"], "/oauth2/authorize"), allow_redirects=False,
                                              timeout=10, params={
             "response_type": "code", "client_id": c["client"], "redirect_uri": "http://localhost:9000/new",
             "scope": "openid", "code_challenge": pkce()[1], "code_challenge_method": "S256"}).status_code, 302),
         setup=_client),
    Case("delete-user-pool-client", lambda c: ["--user-pool-id", c["pool"], "--client-id", c["client"]],
         lambda s, c, out: _same(_count(s, "app_clients", c["pool"]), 0), setup=_client),
    Case("list-user-pool-clients", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _same([x["ClientId"] for x in out["UserPoolClients"]], [c["client"]]), setup=_client),
    Case("create-identity-provider",
         lambda c: ["--user-pool-id", c["pool"], "--provider-name", "Corp", "--provider-type", "OIDC",
                    "--provider-details", json.dumps(OIDC), "--attribute-mapping", json.dumps({"email": "email"})],
         lambda s, c, out: _same(s.idp.describe_identity_provider(UserPoolId=c["pool"], ProviderName="Corp")[
             "IdentityProvider"]["ProviderDetails"]["oidc_issuer"], "https://idp.example")),
    Case("describe-identity-provider", lambda c: ["--user-pool-id", c["pool"], "--provider-name", "Corp"],
         lambda s, c, out: _same(out["IdentityProvider"]["ProviderDetails"]["client_secret"], "*" * 8),
         setup=_with_idp),
    Case("update-identity-provider",
         lambda c: ["--user-pool-id", c["pool"], "--provider-name", "Corp", "--idp-identifiers", "corp.example"],
         lambda s, c, out: _same(s.idp.describe_identity_provider(UserPoolId=c["pool"], ProviderName="Corp")[
             "IdentityProvider"]["IdpIdentifiers"], ["corp.example"]), setup=_with_idp),
    Case("delete-identity-provider", lambda c: ["--user-pool-id", c["pool"], "--provider-name", "Corp"],
         lambda s, c, out: _same(_count(s, "identity_providers", c["pool"]), 0), setup=_with_idp),
    Case("list-identity-providers", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _same([p["ProviderName"] for p in out["Providers"]], ["Corp"]), setup=_with_idp),
    Case("create-resource-server",
         lambda c: ["--user-pool-id", c["pool"], "--identifier", "https://api.example", "--name", "api",
                    "--scopes", "ScopeName=read,ScopeDescription=read"],
         lambda s, c, out: _same([x["ScopeName"] for x in s.idp.describe_resource_server(
             UserPoolId=c["pool"], Identifier="https://api.example")["ResourceServer"]["Scopes"]], ["read"])),
    Case("describe-resource-server", lambda c: ["--user-pool-id", c["pool"], "--identifier", "https://api.example"],
         lambda s, c, out: _same(out["ResourceServer"]["Name"], "api"), setup=_with_server),
    Case("update-resource-server",
         lambda c: ["--user-pool-id", c["pool"], "--identifier", "https://api.example", "--name", "api v2",
                    "--scopes", "ScopeName=write,ScopeDescription=write"],
         lambda s, c, out: _same(rows(s.server, "SELECT name, scopes FROM resource_servers WHERE pool_id = :p",
                                      p=c["pool"]), [("api v2", '["write"]')]), setup=_with_server),
    Case("delete-resource-server", lambda c: ["--user-pool-id", c["pool"], "--identifier", "https://api.example"],
         lambda s, c, out: _same(_count(s, "resource_servers", c["pool"]), 0), setup=_with_server),
    Case("list-resource-servers", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _same([x["Identifier"] for x in out["ResourceServers"]], ["https://api.example"]),
         setup=_with_server),
    Case("set-ui-customization",
         lambda c: ["--user-pool-id", c["pool"], "--css", CSS, "--image-file", f"fileb://{c['logo']}"],
         lambda s, c, out: _member("/ui/ALL/style.css", _login_page(s, c["pool"], c["client"])) or _same(
             requests.get(out["UICustomization"]["ImageUrl"], timeout=10).content, png()), setup=lambda site: _logo(site)),
    Case("get-ui-customization", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _member("#1a73e8", out["UICustomization"]["CSS"]),
         setup=lambda site: _branded(site)),
    Case("get-user-pool-mfa-config", lambda c: ["--user-pool-id", c["pool"]],
         lambda s, c, out: _same(out["MfaConfiguration"], "OFF")),
    Case("set-user-pool-mfa-config",
         lambda c: ["--user-pool-id", c["pool"], "--mfa-configuration", "ON",
                    "--software-token-mfa-configuration", "Enabled=true"],
         lambda s, c, out: _same(rows(s.server, "SELECT mfa, mfa_methods FROM user_pools WHERE id = :p", p=c["pool"]),
                                 [("ON", '["TOTP"]')])),
    Case("describe-user-pool-domain", lambda c: ["--domain", DOMAIN],
         lambda s, c, out: _same(out["DomainDescription"]["UserPoolId"], s.domain_pool), setup=lambda site: {}),
    Case("create-user-pool-domain", lambda c: ["--domain", DOMAIN, "--user-pool-id", c["pool"]],
         lambda s, c, out: _same(out["CloudFrontDomain"], "127.0.0.1"), setup=lambda site: {"pool": site.domain_pool}),
]


def _logo(site: Site) -> dict[str, Any]:
    """A client, and a PNG file for the CLI to read (``fileb://``)."""
    made = _client(site)
    path = site.server.log.parent / f"logo-{made['client']}.png"
    path.write_bytes(png())
    return {**made, "logo": str(path)}


def _branded(site: Site) -> dict[str, Any]:
    pool = site.server.pool()
    site.idp.set_ui_customization(UserPoolId=pool, CSS=CSS)
    return {"pool": pool}


def _assert(pool: dict[str, Any], **expected: Any) -> None:
    flat = {**pool, **pool["Policies"]["PasswordPolicy"]}
    assert {k: flat[k] for k in expected} == expected


def _same(found: Any, expected: Any) -> None:
    assert found == expected, f"{found!r} != {expected!r}"


def _member(item: Any, collection: Any) -> None:
    assert item in collection, f"{item!r} not in {collection!r}"


@pytest.mark.parametrize("case", CASES, ids=[c.operation for c in CASES])
def test_the_aws_cli_runs_the_operation(site, case):
    context = case.setup(site)
    out = cli_json(aws_cli(site.server, site.key, case.operation, *case.args(context)))
    case.check(site, context, out)


def test_the_aws_cli_hears_the_refusal_of_delete_user_pool_domain_and_of_a_scoped_key(site):
    """DeleteUserPoolDomain is answered with what to change in the configuration; the
    mapping stays (the domain still serves the pool)."""
    result = aws_cli(site.server, site.key, "delete-user-pool-domain", "--domain", DOMAIN,
                     "--user-pool-id", site.domain_pool)
    assert result.returncode != 0 and "InvalidParameterException" in result.stderr and "BROKER_DOMAINS" in result.stderr
    r = requests.get(site.server.base_url + "/.well-known/openid-configuration", headers={"Host": DOMAIN}, timeout=10)
    assert r.status_code == 200 and r.json()["issuer"].endswith(site.domain_pool)
    scoped = site.server.cli_json("admin-key", "create", "--pool", site.domain_pool)
    result = aws_cli(site.server, scoped, "create-user-pool", "--pool-name", "nope")
    assert result.returncode != 0 and "AccessDeniedException" in result.stderr
    assert refused(lambda: admin(site.server, scoped).create_user_pool(PoolName="nope"))[0] == "AccessDeniedException"


def test_every_operation_of_this_api_is_in_the_table():
    from botocore import xform_name

    from broker.api import admin_clients, admin_idps, admin_pool_options, admin_pools, admin_resources, registry

    modules = {m.__name__ for m in (admin_pools, admin_pool_options, admin_clients, admin_idps, admin_resources)}
    ours = {xform_name(name, "-") for (_service, name), op in registry._OPERATIONS.items()
            if op.handler.__module__ in modules}
    assert ours == {c.operation for c in CASES} | {"delete-user-pool-domain"}
