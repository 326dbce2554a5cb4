"""SRP verifiers made where passwords are set or proven, over a real server, its CLI and a
real SMTP server: each stored verifier is read back from the database with the server's
secret and must answer pycognito's PASSWORD_VERIFIER response for the password the user
set, and no other."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from broker.engine import srp
from broker.sealing import Sealer
from broker.store import repo
from broker.store.db import Database
from broker.store.models import User
from broker.userpool import srp_verifiers
from broker.userpool.passwords import hash_password
from tests.conftest import Broker
from tests.flows.test_accounts import PASSWORD, Site, expect_callback, post_login, sign_up, start
from tests.flows.test_accounts import site  # noqa: F401 (a fixture: a server with a real SMTP server)
from tests.rp import CALLBACK
from tests.test_srp import Answer

NEW_PASSWORD = "N3w-Batt3ry-Staple!"


@dataclass
class Stored:
    """A user's ``srp_verifier`` column as the database holds it, and what it opens to."""

    raw: str | None
    verifier: srp.Verifier | None


@contextlib.contextmanager
def user_row(broker: Broker, pool: str, username: str) -> Iterator[tuple[Session, User]]:
    """The user's row, in a session of the server's database with the server's own secret."""
    db = Database(broker.env["DATABASE_URL"], Sealer(broker.env["BROKER_SECRET_KEY"]))
    try:
        with db.session() as session:
            user = repo.get_user(session, pool, username)
            assert user is not None
            yield session, user
    finally:
        db.dispose()


def stored(broker: Broker, pool: str, username: str) -> Stored:
    with user_row(broker, pool, username) as (session, user):
        return Stored(user.srp_verifier, srp_verifiers.load(session, user))


def overwrite(broker: Broker, pool: str, username: str, value: str | None) -> None:
    with user_row(broker, pool, username) as (_session, user):
        user.srp_verifier = value


def assert_verifier_for(site: Site, username: str, password: str, not_for: tuple[str, ...] = ()) -> srp.Verifier:
    """The stored verifier is sealed (neither v nor the salt readable in the row) and
    answers pycognito for ``password`` only."""
    found = stored(site.broker, site.pool, username)
    assert found.raw is not None and found.raw.startswith("v1.") and found.verifier is not None
    assert b"srp1." not in base64.urlsafe_b64decode(found.raw.removeprefix("v1."))
    assert format(found.verifier.verifier, "x") not in found.raw and found.verifier.salt not in found.raw
    assert Answer(found.verifier, username, password, pool_id=site.pool).verify(username=username)
    for other in not_for:
        assert not Answer(found.verifier, username, other, pool_id=site.pool).verify(username=username)
    return found.verifier


def hosted_sign_in(site: Site, username: str, password: str) -> bool:
    """Whether the hosted login page signs the user in (back at the app with a code)."""
    rp = site.rp()
    params, _verifier, login_page = start(rp)
    r = post_login(rp, login_page, username, password)
    if r.status_code == 400:
        assert "Incorrect username or password." in r.text
        return False
    expect_callback(r, params)
    return True


def test_sign_up_on_the_hosted_pages_stores_a_sealed_verifier_and_a_taken_name_does_not(site: Site) -> None:
    owner = site.rp()
    sign_up(site, owner, start(owner)[2], "Gina", "gina@example.com")
    verifier = assert_verifier_for(site, "gina", PASSWORD, not_for=(NEW_PASSWORD,))

    other = site.rp()  # the same name again: the answer looks alike, the owner's verifier stays
    sign_up(site, other, start(other)[2], "gina", "someone@example.com")
    assert stored(site.broker, site.pool, "gina").verifier == verifier


def test_cli_created_users_and_temporary_passwords_get_verifiers(site: Site) -> None:
    site.broker.cli("user", "create", "--pool", site.pool, "--username", "hugo", "--password", PASSWORD,
                    "--confirmed")
    assert_verifier_for(site, "hugo", PASSWORD, not_for=(NEW_PASSWORD,))

    created = site.broker.cli_json("user", "create", "--pool", site.pool, "--username", "ines")
    first = created["TemporaryPassword"]
    assert_verifier_for(site, "ines", first)
    again = site.broker.cli_json("user", "resend-invitation", "--pool", site.pool, "--username", "ines")
    assert_verifier_for(site, "ines", again["TemporaryPassword"], not_for=(first,))


def test_a_new_password_replacing_a_temporary_one_replaces_the_verifier(site: Site) -> None:
    temporary = "Temp-Passw0rd!"
    site.broker.cli("user", "create", "--pool", site.pool, "--username", "jules", "--password", temporary)
    assert_verifier_for(site, "jules", temporary)
    rp = site.rp()
    params, _verifier, login_page = start(rp)
    page = rp.follow(post_login(rp, login_page, "jules", temporary))
    expect_callback(rp.post_form(page, {"password": NEW_PASSWORD, "password_confirm": NEW_PASSWORD}), params)
    assert_verifier_for(site, "jules", NEW_PASSWORD, not_for=(temporary,))


def _django_pbkdf2(password: str) -> str:
    salt = secrets.token_hex(6)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 1000)
    return f"pbkdf2_sha256$1000${salt}${base64.b64encode(digest).decode()}"


@pytest.mark.parametrize("imported", [_django_pbkdf2, hash_password], ids=["rehashed", "argon2id"])
def test_an_imported_user_gets_a_verifier_at_a_hosted_password_sign_in(site: Site,
                                                                       imported: Callable[[str], str]) -> None:
    name = f"imp{secrets.token_hex(3)}"
    site.broker.cli("user", "create", "--pool", site.pool, "--username", name, "--password-hash",
                    imported(PASSWORD), "--confirmed")
    assert stored(site.broker, site.pool, name) == Stored(None, None)
    assert not hosted_sign_in(site, name, NEW_PASSWORD)
    assert stored(site.broker, site.pool, name) == Stored(None, None)
    assert hosted_sign_in(site, name, PASSWORD)
    assert_verifier_for(site, name, PASSWORD, not_for=(NEW_PASSWORD,))


def test_a_verifier_lost_or_sealed_under_another_secret_is_made_again_at_sign_in(site: Site) -> None:
    site.broker.cli("user", "create", "--pool", site.pool, "--username", "kim", "--password", PASSWORD,
                    "--confirmed")
    before = assert_verifier_for(site, "kim", PASSWORD)
    overwrite(site.broker, site.pool, "kim", None)  # a user from before SRP
    assert hosted_sign_in(site, "kim", PASSWORD)
    after = assert_verifier_for(site, "kim", PASSWORD)
    assert after.salt != before.salt

    foreign = Sealer("another deployment's secret").seal("srp-verifier", after.dumps().encode(), bound_to="x")
    overwrite(site.broker, site.pool, "kim", foreign)
    assert stored(site.broker, site.pool, "kim").verifier is None
    assert hosted_sign_in(site, "kim", PASSWORD)
    assert assert_verifier_for(site, "kim", PASSWORD).salt not in (before.salt, after.salt)


def test_a_pool_with_srp_off_keeps_no_verifiers(site: Site) -> None:
    broker = site.broker
    pool = broker.pool()
    client = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    off = Site(broker, site.mail, pool, client["ClientId"])
    invited = broker.cli_json("user", "create", "--pool", pool, "--username", "lea")
    assert_verifier_for(off, "lea", invited["TemporaryPassword"])

    described = broker.cli_json("pool", "update", "--pool", pool, "--no-srp")["UserPool"]
    assert described["Security"]["SrpEnabled"] is False
    broker.cli("user", "create", "--pool", pool, "--username", "max", "--password", PASSWORD, "--confirmed")
    rp = off.rp()
    sign_up(off, rp, start(rp)[2], "nina", "nina@example.com")
    assert hosted_sign_in(off, "max", PASSWORD)
    assert stored(broker, pool, "max") == stored(broker, pool, "nina") == Stored(None, None)
    # a new password set with SRP off leaves no verifier of the old one behind
    broker.cli("user", "resend-invitation", "--pool", pool, "--username", "lea")
    assert stored(broker, pool, "lea") == Stored(None, None)

    assert broker.cli_json("pool", "update", "--pool", pool, "--srp")["UserPool"]["Security"]["SrpEnabled"] is True
    assert hosted_sign_in(off, "max", PASSWORD)
    assert_verifier_for(off, "max", PASSWORD)
