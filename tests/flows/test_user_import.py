"""``broker user import`` against a real server: 10,000 users with password hashes made by
the systems they come from (Django, passlib, bcrypt, argon2-cffi, Firebase's scrypt), the
rejected rows reported with their line and reason while the rest imports, a sample of
users signing in with their old passwords over the JSON API (each hash then upgraded to
Argon2id), users without a hash resetting their password, and malformed files importing
nothing."""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import uuid

import bcrypt
import pyotp
import pytest
import sqlalchemy as sa

import tests.django_hashers  # noqa: F401  (Django's hashers, configured once)
from tests.aws import api_broker, cognito_idp, refused
from tests.rp import CALLBACK
from tests.smtp import MailServer, code_in

USERS = 10_000
FLOWS = ("--auth-flow", "ALLOW_USER_PASSWORD_AUTH", "--auth-flow", "ALLOW_REFRESH_TOKEN_AUTH")
FIREBASE_KEY = base64.b64encode(os.urandom(64)).decode()
FIREBASE = f"signer_key={FIREBASE_KEY},salt_separator=Bw==,rounds=8,mem_cost=10"
HEADER = ["cognito:username", "name", "email", "email_verified", "phone_number", "phone_number_verified",
          "custom:plan", "cognito:mfa_enabled", "cognate:password_hash", "cognate:groups", "cognate:mfa_factors",
          "cognate:totp_secret"]


def _django_pbkdf2(password: str) -> str:
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    return hasher.encode(password, hasher.salt(), iterations=1000)


def _passlib(scheme: str, **options: int):
    from passlib import hash as schemes

    return lambda password: getattr(schemes, scheme).using(**options).hash(password)


def _argon2(password: str) -> str:
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash(password)


def _bcrypt(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$")


def _firebase(password: str) -> str:
    """Firebase's scrypt made here from its published description, cell in Firebase's
    export form (the project's parameters come with --firebase-scrypt)."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    salt = os.urandom(12)
    derived = hashlib.scrypt(password.encode(), salt=salt + b"\x07", n=2 ** 10, r=8, p=1, dklen=64)
    enc = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
    digest = enc.update(base64.b64decode(FIREBASE_KEY)) + enc.finalize()
    return f"$firebase-scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


#: Each source makes a few hashes (one per password) that its users share.
SOURCES = {
    "bcrypt $2y$": _bcrypt,
    "django pbkdf2_sha256": _django_pbkdf2,
    "passlib pbkdf2_sha1": _passlib("pbkdf2_sha1", rounds=1000),
    "passlib scrypt": _passlib("scrypt", rounds=8),
    "argon2id": _argon2,
    "firebase scrypt": _firebase,
}
PER_SOURCE = 4
#: Bad rows put at these places in the file, each with a word of the reason it fails for.
BAD_ROWS = {
    100: ({"cognito:username": "bad-email", "email": "not-an-address"}, "valid email"),
    200: ({"cognito:username": "user00000"}, "also on line"),
    300: ({"cognito:username": "bad-hash", "cognate:password_hash": "md5$abc$def"}, "no supported format"),
    400: ({"cognito:username": "costly", "cognate:password_hash": "$2b$31$" + "a" * 53}, "bcrypt cost"),
    500: ({"cognito:username": "no-channel", "email_verified": "false", "cognate:password_hash": ""}, "reset code"),
    600: ({"cognito:username": "bad-group", "cognate:groups": "ok;no/slash"}, "group name"),
    700: ({"cognito:username": "bad-flag", "email_verified": "yes"}, "true or false"),
    800: ({"cognito:username": "bad name!"}, "username"),
}


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, mail):
    with api_broker(tmp_path_factory.mktemp("userimport"), redis_url, **mail.broker_env()) as broker:
        yield broker


@pytest.fixture(scope="module")
def site(server):
    pool = server.pool("--mfa", "OPTIONAL")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "app", "--callback-url", CALLBACK, *FLOWS)
    return pool, client["ClientId"]


def _passwords() -> dict[str, list[tuple[str, str]]]:
    """(password, hash) pairs of each source."""
    return {name: [(f"Old-{name.split()[0]}-{i}!", make(f"Old-{name.split()[0]}-{i}!")) for i in range(PER_SOURCE)]
            for name, make in SOURCES.items()}


def _row(index: int, made: dict[str, list[tuple[str, str]]]) -> tuple[dict[str, str], str | None, str | None]:
    """User ``index``'s cells, their password and the source of its hash (None: no hash)."""
    sources = sorted(made)
    row = {"cognito:username": f"user{index:05d}", "name": f"User {index}", "email": f"user{index}@example.com",
           "email_verified": "true", "cognito:mfa_enabled": "false", "custom:plan": ["free", "pro"][index % 2],
           "cognate:groups": "readers" + (";writers" if index % 3 == 0 else "")}
    if index % 10 == 9:
        return row, None, None  # no hash: RESET_REQUIRED
    source = sources[index % len(sources)]
    password, hashed = made[source][index % PER_SOURCE]
    return {**row, "cognate:password_hash": hashed}, password, source


@pytest.fixture(scope="module")
def imported(server, site, tmp_path_factory):
    """The 10,000-user file imported once: the report, and who signs in with what."""
    pool, _client = site
    made = _passwords()
    users: dict[str, tuple[str | None, str | None]] = {}
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HEADER, lineterminator="\n")
    writer.writeheader()
    line = 1
    for index in range(USERS):
        line += 1
        if line in BAD_ROWS:
            cells, _reason = BAD_ROWS[line]
            writer.writerow({"email": "x@example.com", "email_verified": "true", "cognito:mfa_enabled": "false",
                             **cells})
            line += 1
        row, password, source = _row(index, made)
        writer.writerow(row)
        users[row["cognito:username"]] = (password, source)
    totp_secret = pyotp.random_base32()
    writer.writerow({"cognito:username": "tot", "email": "tot@example.com", "email_verified": "true",
                     "cognito:mfa_enabled": "true", "cognate:password_hash": made["argon2id"][0][1],
                     "cognate:mfa_factors": "TOTP", "cognate:totp_secret": totp_secret})
    buffer.write("short,row\n")  # too few fields: fails alone
    path = tmp_path_factory.mktemp("csv") / "users.csv"
    path.write_text(buffer.getvalue())
    result = server.cli("user", "import", "--pool", pool, str(path), "--firebase-scrypt", FIREBASE, "--json")
    return json.loads(result.stdout), users, line + 1, made, totp_secret


def test_ten_thousand_users_import_with_each_bad_row_reported(server, site, imported):
    report, users, last_line, _made, _secret = imported
    assert report["ImportedUsers"] == USERS + 1
    assert report["ResetRequired"] == USERS // 10
    assert report["WithPasswordHash"] == USERS - USERS // 10 + 1
    rejected = {r["Line"]: r for r in report["Rejected"]}
    assert set(rejected) == set(BAD_ROWS) | {last_line + 1}, rejected
    for line, (cells, reason) in BAD_ROWS.items():
        assert reason in rejected[line]["Reason"], rejected[line]
    assert "fields" in rejected[last_line + 1]["Reason"]
    assert report["FailedUsers"] == len(BAD_ROWS) + 1


def _hash_in_db(server, pool: str, username: str) -> str:
    engine = sa.create_engine(server.env["DATABASE_URL"])
    with engine.connect() as db:
        stored = db.execute(sa.text("SELECT password_hash FROM users WHERE pool_id = :p AND username = :u"),
                            {"p": pool, "u": username}).scalar_one()
    engine.dispose()
    return stored


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_sample_signs_in_with_old_passwords_and_is_upgraded_to_argon2id(server, site, imported, source):
    pool, client_id = site
    _report, users, _line, _made, _secret = imported
    idp = cognito_idp(server.base_url)
    sample = [name for name, (_pw, src) in users.items() if src == source][:2]
    for username in sample:
        password = users[username][0]
        assert not _hash_in_db(server, pool, username).startswith("$argon2id$v=19$m=19456")
        tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": username, "PASSWORD": password})["AuthenticationResult"]
        claims = _claims(tokens["IdToken"])
        index = int(username.removeprefix("user"))
        assert claims["cognito:username"] == username and claims["custom:plan"] == ["free", "pro"][index % 2]
        assert set(claims["cognito:groups"]) == {"readers", *(("writers",) if index % 3 == 0 else ())}
        assert _hash_in_db(server, pool, username).startswith("$argon2id$v=19$m=19456,t=2,p=1$")
        again = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
            "USERNAME": username, "PASSWORD": password})  # the upgraded hash takes the same password
        assert "AuthenticationResult" in again


def test_an_imported_authenticator_app_is_asked_for(server, site, imported):
    _pool, client_id = site
    _report, _users, _line, made, secret = imported
    idp = cognito_idp(server.base_url)
    step = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "tot", "PASSWORD": made["argon2id"][0][0]})
    assert step["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = idp.respond_to_auth_challenge(ClientId=client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=step["Session"],
                                         ChallengeResponses={"USERNAME": "tot",
                                                             "SOFTWARE_TOKEN_MFA_CODE": pyotp.TOTP(secret).now()})
    assert "AuthenticationResult" in done


def test_a_user_imported_without_a_hash_resets_the_password_by_code(server, site, imported, mail):
    pool, client_id = site
    _report, users, _line, _made, _secret = imported
    username = next(name for name, (password, _src) in users.items() if password is None)
    admin_key = server.cli_json("admin-key", "create", "--pool", pool)
    from tests.flows.test_api_admin_keys import admin

    assert admin(server, admin_key).admin_get_user(UserPoolId=pool, Username=username)["UserStatus"] == "RESET_REQUIRED"
    idp = cognito_idp(server.base_url)
    assert refused(lambda: idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": username, "PASSWORD": "Anything-1!"}))[0] == "NotAuthorizedException"
    idp.forgot_password(ClientId=client_id, Username=username)
    code = code_in(mail.wait_for(f"user{int(username.removeprefix('user'))}@example.com"))
    idp.confirm_forgot_password(ClientId=client_id, Username=username, ConfirmationCode=code, Password="New-Horse-12!")
    tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": username, "PASSWORD": "New-Horse-12!"})
    assert "AuthenticationResult" in tokens


def _count(server, pool: str) -> int:
    return len(server.cli_json("user", "list", "--pool", pool)["Users"])


GOOD = "cognito:username,cognito:mfa_enabled,email,email_verified\nann,false,ann@example.com,true\n"


@pytest.mark.parametrize("content, says", [
    (b"", "empty"),
    (b"username,email\nann,ann@example.com\n", "unknown column"),
    (b"cognito:username,email,email_verified\nann,ann@example.com,true\n", "no cognito:mfa_enabled"),
    (b"cognito:username,cognito:mfa_enabled,cognito:username\n", "twice"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01", "not UTF-8"),
    (GOOD.encode() + b'bob,false,"bob@example.com,true\n', "not CSV"),
    (GOOD.encode() + "zoë,false,z@example.com,true\n".encode("latin-1"), "not UTF-8"),
])
def test_a_malformed_file_imports_nothing_and_says_why_in_one_line(server, tmp_path, content, says):
    pool = server.pool()
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    result = server.cli("user", "import", "--pool", pool, str(path), "--json", check=False)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and says in result.stderr, result.stderr
    assert _count(server, pool) == 0  # not even the good row before the fault


def test_importing_into_a_missing_pool_or_from_a_missing_file_is_refused(server, tmp_path):
    path = tmp_path / "users.csv"
    path.write_text(GOOD)
    result = server.cli("user", "import", "--pool", "local_NoSuchPool", str(path), check=False)
    assert result.returncode == 2 and "local_NoSuchPool" in result.stderr
    result = server.cli("user", "import", "--pool", server.pool(), str(tmp_path / "none.csv"), check=False)
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_imported_subs_are_kept_and_a_taken_one_is_refused(server, tmp_path):
    pool = server.pool()
    sub = str(uuid.uuid4())
    hashed = _bcrypt("Whatever-1!")
    path = tmp_path / "subs.csv"
    path.write_text("cognito:username,cognito:mfa_enabled,email,email_verified,cognate:sub,cognate:password_hash\n"
                    f"kim,false,kim@example.com,true,{sub},{hashed}\nlee,false,lee@example.com,true,{sub},{hashed}\n")
    report = json.loads(server.cli("user", "import", "--pool", pool, str(path), "--json").stdout)
    assert report["ImportedUsers"] == 1 and report["Rejected"] == [
        {"Line": 3, "Username": "lee", "Reason": "the sub belongs to another user"}]
    assert [u["Sub"] for u in server.cli_json("user", "list", "--pool", pool)["Users"]] == [sub]


def test_a_row_linking_the_same_federated_user_twice_is_refused_alone(server, tmp_path):
    pool = server.pool()
    twice = '[{""providerName"":""Corp"",""providerType"":""OIDC"",""userId"":""7""},' \
            '{""providerName"":""Corp"",""providerType"":""SAML"",""userId"":""7""}]'
    path = tmp_path / "identities.csv"
    path.write_text("cognito:username,cognito:mfa_enabled,email,email_verified,cognate:status,cognate:identities\n"
                    f'fed_7,false,f7@example.com,true,EXTERNAL_PROVIDER,"{twice}"\n'
                    "ann,false,ann@example.com,true,,\n")
    report = json.loads(server.cli("user", "import", "--pool", pool, str(path), "--json").stdout)
    assert report["ImportedUsers"] == 1 and report["Rejected"] == [
        {"Line": 2, "Username": "fed_7", "Reason": "cognate:identities lists 'Corp' user '7' twice"}]
    assert [u["Username"] for u in server.cli_json("user", "list", "--pool", pool)["Users"]] == ["ann"]
