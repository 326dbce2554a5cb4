"""How a federated sign-in lands in the pool (on a real SQLite database): the first sign-in
creates ``<provider>_<subject>`` as EXTERNAL_PROVIDER, later ones refresh the mapped
attributes of the same user; linked identities sign in as their native user; linking by
email needs the pool's consent and a verified address on both sides; a disabled user is
refused with nothing written; two first sign-ins at once make one user (on PostgreSQL too)."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from broker.connectors.base import Identity
from broker.errors import HostedError, InvalidInput
from broker.oauth.issue import subject_of
from broker.sealing import Sealer
from broker.store.db import Database
from broker.store.models import AuditEvent, IdentityProvider, User, UserIdentity
from broker.userpool import admin, federation, idps

MAPPING = {"email": "email", "given_name": "given_name", "custom:team": "team"}


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path}/fed.db", Sealer("test secret key"))
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture()
def session(db: Database) -> Iterator[Session]:
    with db.session() as s:
        yield s


@pytest.fixture()
def corp(session: Session) -> IdentityProvider:
    pool = admin.create_pool(session, "fed")
    idp = IdentityProvider(pool_id=pool.id, name="Corp", type="OIDC", details={}, attribute_mapping=MAPPING)
    session.add(idp)
    session.commit()
    return idp


def who(subject: str = "u-123", verified: bool = True, **attributes: str) -> Identity:
    attrs = {"sub": subject, "email": "ann@corp.example", "given_name": "Ann", "team": "blue", **attributes}
    return Identity("Corp", "OIDC", subject, attrs, email_verified=verified)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def sign_in(session: Session, idp: IdentityProvider, identity: Identity) -> User:
    user = federation.sign_in(session, idp_pool(session, idp), idp, identity, "127.0.0.1")
    session.commit()
    return user


def idp_pool(session: Session, idp: IdentityProvider):  # type: ignore[no-untyped-def]
    return admin.require_pool(session, idp.pool_id)


def test_first_sign_in_creates_an_external_user_with_mapped_attributes(session, corp):
    user = sign_in(session, corp, who())
    assert user.username == "corp_u-123" and user.status == "EXTERNAL_PROVIDER" and user.password_hash is None
    assert user.attributes["email"] == "ann@corp.example" and user.attributes["email_verified"] == "true"
    assert user.attributes["given_name"] == "Ann" and user.attributes["custom:team"] == "blue"
    assert "sub" not in user.attributes  # only mapped attributes land in the pool
    [identity] = subject_of(user).identities or []
    assert identity["userId"] == "u-123" and identity["providerName"] == "Corp"
    assert identity["providerType"] == "OIDC" and identity["primary"] == "true" and identity["issuer"] is None
    assert int(identity["dateCreated"]) > 1_700_000_000_000  # milliseconds, as Cognito
    assert "identities" not in subject_of(user).attributes


def test_second_sign_in_updates_the_same_user(session, corp):
    first = sign_in(session, corp, who())
    again = sign_in(session, corp, who(given_name="Annie", team="red", verified=False))
    assert again.id == first.id and count(session, User) == 1 and count(session, UserIdentity) == 1
    assert again.attributes["given_name"] == "Annie" and again.attributes["custom:team"] == "red"
    assert again.attributes["email_verified"] == "false"


def test_unverified_upstream_email_is_not_verified_in_the_pool(session, corp):
    user = sign_in(session, corp, who(verified=False))
    assert user.attributes["email_verified"] == "false"


def test_subject_that_does_not_fit_a_username_is_replaced_by_its_digest(session, corp):
    user = sign_in(session, corp, who(subject="CN=Ann Smith/O=Corp\u200b<script>"))
    assert user.username.startswith("corp_") and len(user.username) == len("corp_") + 40
    assert user.username[5:].isalnum()
    assert idps.find_link(session, user.pool_id, "Corp", "CN=Ann Smith/O=Corp\u200b<script>").user_id == user.id


def test_admin_link_makes_the_upstream_subject_sign_in_as_the_native_user(session, corp):
    native, _ = admin.create_user(session, corp.pool_id, "ann", password="Corr3ct-Horse!",
                                  attributes={"email": "ann@corp.example", "given_name": "Native"}, confirmed=True)
    idps.link_user(session, corp.pool_id, "ann", "Corp", "u-123")
    session.commit()
    user = sign_in(session, corp, who(given_name="Upstream"))
    assert user.id == native.id and count(session, User) == 1
    assert user.attributes["given_name"] == "Native"  # a native user's own attributes stay
    assert json.loads(user.attributes["identities"])[0]["userId"] == "u-123"


def test_link_refuses_a_subject_linked_twice_and_unknown_names(session, corp):
    admin.create_user(session, corp.pool_id, "ann", password="Corr3ct-Horse!", confirmed=True)
    admin.create_user(session, corp.pool_id, "bob", password="Corr3ct-Horse!", confirmed=True)
    idps.link_user(session, corp.pool_id, "ann", "Corp", "u-123")
    with pytest.raises(InvalidInput, match="already linked"):
        idps.link_user(session, corp.pool_id, "bob", "Corp", "u-123")
    with pytest.raises(InvalidInput, match="no identity provider"):
        idps.link_user(session, corp.pool_id, "bob", "Other", "u-9")
    with pytest.raises(InvalidInput, match="no user"):
        idps.link_user(session, corp.pool_id, "nobody", "Corp", "u-9")


def test_link_by_email_is_off_by_default(session, corp):
    admin.create_user(session, corp.pool_id, "ann", password="Corr3ct-Horse!",
                      attributes={"email": "ann@corp.example", "email_verified": "true"}, confirmed=True)
    session.commit()
    user = sign_in(session, corp, who())
    assert user.username == "corp_u-123" and count(session, User) == 2


@pytest.mark.parametrize("upstream_verified, native_verified, linked", [
    (True, True, True), (False, True, False), (True, False, False),
])
def test_link_by_email_needs_both_addresses_verified(session, corp, upstream_verified, native_verified, linked):
    pool = idp_pool(session, corp)
    pool.link_by_email = True
    native, _ = admin.create_user(session, corp.pool_id, "ann", password="Corr3ct-Horse!", confirmed=True,
                                  attributes={"email": "ann@corp.example",
                                              "email_verified": "true" if native_verified else "false"})
    session.commit()
    user = sign_in(session, corp, who(email="Ann@Corp.example", verified=upstream_verified))
    assert (user.id == native.id) is linked
    assert count(session, User) == (1 if linked else 2)


def test_disabled_user_is_refused_and_nothing_changes(session, corp):
    user = sign_in(session, corp, who())
    user.enabled = False
    session.commit()
    with pytest.raises(HostedError) as refused:
        sign_in(session, corp, who(given_name="Changed"))
    assert refused.value.status == 403
    session.expire_all()
    assert session.get(User, user.id).attributes["given_name"] == "Ann"
    refusals = session.scalars(select(AuditEvent).where(AuditEvent.event == "FederatedSignIn",
                                                        AuditEvent.outcome == "Fail")).all()
    assert len(refusals) == 1 and refusals[0].details["reason"] == "disabled"


def test_usernames_that_collide_get_a_name_of_their_own(session, corp):
    """``corp``/``x_y`` and ``corp_x``/``y`` both read ``corp_x_y``; subjects differing only in
    case read alike; a native user may already hold the name. Each identity still gets one
    user of its own, and the next sign-in finds it again."""
    pool = idp_pool(session, corp)
    other = IdentityProvider(pool_id=pool.id, name="Corp_x", type="OIDC", details={}, attribute_mapping=MAPPING)
    session.add(other)
    admin.create_user(session, pool.id, "corp_native", password="Corr3ct-Horse!", confirmed=True)
    session.commit()
    first = sign_in(session, corp, who(subject="x_y"))
    second = sign_in(session, other, Identity("Corp_x", "OIDC", "y", {"sub": "y"}))
    upper = sign_in(session, corp, who(subject="X_Y"))
    squatted = sign_in(session, corp, who(subject="native"))
    names = [first.username, second.username, upper.username, squatted.username]
    assert first.username == "corp_x_y" and len(set(names)) == 4, names
    assert squatted.status == "EXTERNAL_PROVIDER" and squatted.username != "corp_native"
    assert sign_in(session, other, Identity("Corp_x", "OIDC", "y", {"sub": "y"})).id == second.id
    assert count(session, User) == 5


def test_provider_names_are_unique_ignoring_case(session, corp):
    with pytest.raises(InvalidInput, match="already exists"):
        idps.create_idp(session, corp.pool_id, "OIDC", "CORP", {})


def test_link_by_email_links_nobody_when_several_users_share_the_address(session, corp):
    pool = idp_pool(session, corp)
    pool.link_by_email = True
    for name in ("ann", "ann2"):
        admin.create_user(session, corp.pool_id, name, password="Corr3ct-Horse!", confirmed=True,
                          attributes={"email": "ann@corp.example", "email_verified": "true"})
    session.commit()
    user = sign_in(session, corp, who())
    assert user.status == "EXTERNAL_PROVIDER" and count(session, User) == 3


def test_two_first_sign_ins_of_one_identity_at_once_make_one_user(migrated_db: Database):
    """A double click on the provider's button while signed in upstream: the second callback
    creates the user while the first has written it but not yet committed."""
    with migrated_db.session() as s:
        pool_id = admin.create_pool(s, "fed").id
        s.add(IdentityProvider(pool_id=pool_id, name="Corp", type="OIDC", details={}, attribute_mapping=MAPPING))

    def callback(s: Session) -> User:
        return federation.sign_in(s, admin.require_pool(s, pool_id), s.scalars(select(IdentityProvider)).one(),
                                  who(), "127.0.0.1")

    with migrated_db.session() as first, migrated_db.session() as second:
        first_id = callback(first).id

        def second_callback() -> int:
            user_id = callback(second).id
            second.commit()
            return user_id

        with ThreadPoolExecutor(1) as pool:
            other = pool.submit(second_callback)
            time.sleep(0.3)
            assert not other.done()  # waiting for the first callback's user
            first.commit()
            assert other.result(timeout=30) == first_id
    with migrated_db.session() as s:
        assert count(s, User) == count(s, UserIdentity) == 1
        signed_in = select(AuditEvent.user_id).where(AuditEvent.event == "FederatedSignIn", AuditEvent.outcome == "Pass")
        assert list(s.scalars(signed_in)) == [first_id, first_id]  # the loser's sign-in is audited too


def test_an_upstream_email_that_is_not_one_address_is_not_mapped(session, corp):
    """An IdP that sends ``a@x,b@y`` (or a display name) must not make the pool mail two
    people: the address is dropped with its verified flag, the rest is mapped."""
    user = sign_in(session, corp, who(email="ann@corp.example,mallory@evil.example"))
    assert "email" not in user.attributes and "email_verified" not in user.attributes
    assert user.attributes["given_name"] == "Ann"
    other = sign_in(session, corp, who("u-456", email="Ann <ann@corp.example>"))
    assert "email" not in other.attributes
    fine = sign_in(session, corp, who("u-789", email="Bob@Corp.Example"))
    assert fine.attributes["email"] == "bob@corp.example" and fine.attributes["email_verified"] == "true"


def test_disabling_a_provider_identity_unlinks_a_native_user_and_disables_a_federated_one(session, corp):
    native, _ = admin.create_user(session, corp.pool_id, "ann", password="Corr3ct-Horse!", confirmed=True)
    idps.link_user(session, corp.pool_id, "ann", "Corp", "u-1")
    session.commit()
    assert idps.unlink_user(session, corp.pool_id, "Corp", "u-1").id == native.id
    session.commit()
    assert "identities" not in native.attributes and native.enabled
    again = sign_in(session, corp, who("u-1"))  # the identity now makes a user of its own
    assert again.id != native.id and again.status == "EXTERNAL_PROVIDER"

    federated = sign_in(session, corp, who("u-2"))
    idps.unlink_user(session, corp.pool_id, "Corp", "u-2")
    session.commit()
    assert federated.enabled is False
    with pytest.raises(HostedError):
        sign_in(session, corp, who("u-2"))
    with pytest.raises(InvalidInput):
        idps.unlink_user(session, corp.pool_id, "Corp", "u-404")
