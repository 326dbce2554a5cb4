"""``broker user export`` → ``broker user import`` from a server on SQLite to a fresh one on
PostgreSQL: the second server's export is the first one's, byte for byte (attributes, subs,
groups, federated identities, factors, hashes and statuses), and every user signs in there
with their old password; without ``--with-hashes`` users move RESET_REQUIRED."""
from __future__ import annotations

import csv
import io
import json

import bcrypt
import pyotp
import pytest

from tests.aws import cognito_idp, refused
from tests.rp import CALLBACK

FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")
TOTP_SECRET = pyotp.random_base32()
#: Users made in the first server: name → (password, extra `user create` arguments).
MADE = {
    "ada": ("Ada-Lovelace-1!", ("--attribute", "custom:team=engines", "--attribute", "given_name=Ada",
                                 "--group", "admins", "--group", "staff")),
    "bob": ("Bob-Builder-22!", ("--attribute", "phone_number=+14325551212", "--group", "staff")),
    "zoë": ("Zoë-Ünicode-3!", ()),
    #: Values a spreadsheet would run as formulas, and a ``'`` of the value's own.
    "eve": ("Eve-Formula-4!", ("--attribute", 'custom:team==HYPERLINK("http://x")', "--attribute", "nickname=@eve",
                               "--attribute", "given_name='Quoted", "--attribute", "family_name='=1+2")),
}
FORMULA = ("=", "+", "-", "@", "\t", "\r")
#: Users imported into the first server with a foreign hash, a TOTP secret or only an identity.
IMPORTED = ("cognito:username,cognito:mfa_enabled,email,email_verified,cognate:password_hash,cognate:groups,"
            "cognate:mfa_factors,cognate:mfa_preferred,cognate:totp_secret,cognate:status,cognate:identities\n"
            "cyd,false,cyd@example.com,true,{bcrypt},staff,,,,,\n"
            "tia,true,tia@example.com,true,{bcrypt},,TOTP,TOTP,{secret},,\n"
            'fed_1,false,fed@example.com,true,,,,,,EXTERNAL_PROVIDER,"[{{""providerName"":""Corp"",'
            '""providerType"":""OIDC"",""userId"":""1""}}]"\n')
OLD_BCRYPT = "Cyd-Bcrypt-Pw4!"


@pytest.fixture
def servers(make_broker, redis_url, postgres_url, tmp_path):
    source = make_broker(database_url=f"sqlite:///{tmp_path}/source.db", redis_url=redis_url)
    target = make_broker(database_url=postgres_url, redis_url=redis_url)
    return source, target


def _site(server) -> tuple[str, str]:
    pool = server.pool("--mfa", "OPTIONAL")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *FLOWS)
    return pool, client["ClientId"]


def _fill(server, pool: str, tmp_path) -> None:
    for group in ("admins", "staff"):
        server.cli("group", "create", "--pool", pool, "--name", group)
    for name, (password, extra) in MADE.items():
        server.cli("user", "create", "--pool", pool, "--username", name, "--password", password, "--confirmed",
                   "--email", f"{name}@example.com", *extra)
    server.cli("user", "disable", "--pool", pool, "--username", "bob")
    hashed = bcrypt.hashpw(OLD_BCRYPT.encode(), bcrypt.gensalt(4)).decode()
    path = tmp_path / "seed.csv"
    path.write_text(IMPORTED.format(bcrypt=hashed, secret=TOTP_SECRET))
    report = json.loads(server.cli("user", "import", "--pool", pool, str(path), "--json").stdout)
    assert report["ImportedUsers"] == 3, report


def _export(server, pool: str, tmp_path, *flags: str) -> str:
    out = tmp_path / f"export-{pool}-{'-'.join(flags)}.csv"
    server.cli("user", "export", "--pool", pool, "--output", str(out), *flags)
    assert out.stat().st_mode & 0o777 == 0o600
    return out.read_text()


def test_export_from_sqlite_imports_into_postgresql_and_everyone_signs_in(servers, tmp_path):
    source, target = servers
    pool, _client = _site(source)
    _fill(source, pool, tmp_path)
    exported = _export(source, pool, tmp_path, "--with-hashes", "--with-secrets")
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert [r["cognito:username"] for r in rows] == [*MADE, "cyd", "tia", "fed_1"]
    assert all(r["cognate:password_hash"].startswith("$argon2id$") for r in rows[:3])
    assert rows[4]["cognate:password_hash"].startswith("$2b$04$")  # imported, not used yet: as it came
    assert not [cell for row in rows for cell in row.values() if cell.startswith(FORMULA)]
    eve = rows[3]
    assert (eve["custom:team"], eve["nickname"], eve["given_name"], eve["family_name"]) == \
        ("'=HYPERLINK(\"http://x\")", "'@eve", "''Quoted", "''=1+2")
    assert rows[1]["phone_number"] == "'+14325551212"

    new_pool, client_id = _site(target)
    path = tmp_path / "moved.csv"
    path.write_text(exported)
    report = json.loads(target.cli("user", "import", "--pool", new_pool, str(path), "--json").stdout)
    assert report["ImportedUsers"] == 7 and report["Rejected"] == []
    assert _export(target, new_pool, tmp_path, "--with-hashes", "--with-secrets") == exported

    idp = cognito_idp(target.base_url)
    for name, (password, _extra) in [*MADE.items(), ("cyd", (OLD_BCRYPT, ()))]:
        sign_in = lambda: idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",  # noqa: E731
                                            AuthParameters={"USERNAME": name, "PASSWORD": password})
        if name == "bob":
            assert refused(sign_in)[0] == "NotAuthorizedException"  # moved disabled
            continue
        assert "AuthenticationResult" in sign_in(), name
    step = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                             AuthParameters={"USERNAME": "tia", "PASSWORD": OLD_BCRYPT})
    assert step["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=step["Session"],
                                         ChallengeResponses={"USERNAME": "tia",
                                                             "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP(TOTP_SECRET).now()})
    assert "AuthenticationResult" in done
    listed = {u["Username"]: u for u in target.cli_json("user", "list", "--pool", new_pool)["Users"]}
    assert listed["ada"]["Groups"] == ["admins", "staff"] and listed["fed_1"]["UserStatus"] == "EXTERNAL_PROVIDER"
    assert {"Name": "custom:team", "Value": "engines"} in listed["ada"]["Attributes"]
    assert {"Name": "phone_number", "Value": "+14325551212"} in listed["bob"]["Attributes"]
    eve = {a["Name"]: a["Value"] for a in listed["eve"]["Attributes"]}
    assert (eve["custom:team"], eve["nickname"], eve["given_name"], eve["family_name"]) == \
        ('=HYPERLINK("http://x")', "@eve", "'Quoted", "'=1+2")


def test_without_hashes_users_move_reset_required_and_secrets_stay(servers, tmp_path):
    source, target = servers
    pool, _client = _site(source)
    _fill(source, pool, tmp_path)
    exported = _export(source, pool, tmp_path)
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert "cognate:totp_secret" not in rows[0] and not any(r["cognate:password_hash"] for r in rows)
    assert TOTP_SECRET not in exported and "$argon2" not in exported
    new_pool, _client_id = _site(target)
    path = tmp_path / "moved.csv"
    path.write_text(exported)
    report = json.loads(target.cli("user", "import", "--pool", new_pool, str(path), "--json").stdout)
    assert report["ImportedUsers"] == 7 and report["ResetRequired"] == 6
    statuses = {u["Username"]: u["UserStatus"] for u in target.cli_json("user", "list", "--pool", new_pool)["Users"]}
    assert statuses == {**{n: "RESET_REQUIRED" for n in (*MADE, "cyd", "tia")}, "fed_1": "EXTERNAL_PROVIDER"}


def test_json_lines_carry_the_same_fields(servers, tmp_path):
    source, _target = servers
    pool, _client = _site(source)
    _fill(source, pool, tmp_path)
    lines = source.cli("user", "export", "--pool", pool, "--format", "jsonl", "--with-hashes").stdout.splitlines()
    users = {u["cognito:username"]: u for u in map(json.loads, lines)}
    assert set(users) == {*MADE, "cyd", "tia", "fed_1"}
    assert users["ada"]["cognate:groups"] == ["admins", "staff"] and users["ada"]["custom:team"] == "engines"
    assert users["bob"]["cognate:enabled"] is False and users["ada"]["cognate:password_hash"].startswith("$argon2id$")
    assert users["fed_1"]["cognate:identities"] == [{"providerName": "Corp", "providerType": "OIDC", "userId": "1"}]
    assert users["tia"]["cognate:mfa_factors"] == []  # the app's secret stays without --with-secrets


def test_export_writes_through_no_file_placed_beside_its_output(servers, tmp_path):
    """The temporary file is new and unpredictable: a link left at ``<output>.partial``
    neither receives the export nor replaces the output."""
    source, _target = servers
    pool, _client = _site(source)
    source.cli("user", "create", "--pool", pool, "--username", "ann", "--password", "Ann-Password-1!", "--confirmed",
               "--email", "ann@example.com")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    out = tmp_path / "users.csv"
    (tmp_path / "users.csv.partial").symlink_to(victim)
    source.cli("user", "export", "--pool", pool, "--output", str(out), "--with-hashes")
    assert victim.read_text() == "keep me\n"
    assert not out.is_symlink() and out.stat().st_mode & 0o777 == 0o600 and "ann@example.com" in out.read_text()
    assert sorted(p.name for p in tmp_path.iterdir() if "users" in p.name) == ["users.csv", "users.csv.partial"]
