"""A federated sign-in lands in the pool: the upstream :class:`Identity` becomes a pool user.

As in Cognito, the first sign-in creates ``<ProviderName>_<subject>`` with status
EXTERNAL_PROVIDER and the IdP's mapped attributes; later sign-ins refresh the mapped
attributes of the same user. An identity linked to a native user (AdminLinkProviderForUser,
or by verified email when the pool allows it) signs in as that user instead. The user's
links are kept in the ``identities`` attribute, Cognito's JSON string, which tokens carry.
https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-specifying-attribute-mapping.html
"""
from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..connectors.base import Identity
from ..errors import HostedError
from ..i18n import gettext as _
from ..store import repo
from ..store.models import IdentityProvider, User, UserIdentity, UserPool
from ..triggers import invoke, settings as trigger_settings, signup
from . import audit
from .attributes import clean_email
from .idps import IDENTITIES, find_link, refresh_identities

EXTERNAL = "EXTERNAL_PROVIDER"
MAX_VALUE = 2048
SAFE_SUBJECT = re.compile(r"^[\w.@+=,:|-]{1,90}$")  # with a 32-character provider name: < 128


def sign_in(session: Session, pool: UserPool, idp: IdentityProvider, identity: Identity, ip: str | None) -> User:
    """The pool user for ``identity`` (created, refreshed or linked); nothing is written
    when the sign-in is refused (a disabled user, or the pool's PreSignUp trigger refusing
    a new one).

    Two first sign-ins of one identity at once (a double click on the provider's button
    while signed in upstream, two tabs) both read "no user yet": the one whose insert loses
    rolls the session back and signs in as the user the other created. So the session must
    hold no other uncommitted work when this is called.

    A new user is, as in Cognito, a sign-up: ``PreSignUp_ExternalProvider`` runs before it
    is created (its handler may link the identity to an existing user with
    AdminLinkProviderForUser: the sign-in then goes to that user) and
    ``PostConfirmation_ConfirmSignUp`` once it is committed."""
    try:
        user, created = _sign_in(session, pool, idp, identity, ip)
    except IntegrityError:
        session.rollback()
        user, created = _sign_in(session, pool, idp, identity, ip)
    if created:
        signup.post_confirmation(session, pool, user, signup.CONFIRM_SIGN_UP)
    return user


def _sign_in(session: Session, pool: UserPool, idp: IdentityProvider, identity: Identity,
             ip: str | None) -> tuple[User, bool]:
    """The user and whether it was created now."""
    mapped = map_attributes(idp.attribute_mapping, identity)
    user = _linked(session, pool, idp, identity, mapped)
    if user is not None:
        return _signed_in(session, pool, idp, user, ip), False
    user = _linked_by_email(session, pool, identity)
    created = user is None
    if user is None:
        name = free_username(session, pool, idp, identity.subject)
        if invoke.configured(pool, trigger_settings.PRE_SIGN_UP):
            signup.pre_sign_up(session, pool, signup.EXTERNAL_PROVIDER, name, mapped)
            user = _linked(session, pool, idp, identity, mapped)  # the handler may have linked it
            if user is not None:
                return _signed_in(session, pool, idp, user, ip), False
        user = _new_user(session, pool, name, mapped)
    _require_enabled(session, pool, user, idp)
    session.add(UserIdentity(pool_id=pool.id, user_id=user.id, provider_name=idp.name,
                             provider_type=idp.type, subject=identity.subject))
    session.flush()
    refresh_identities(session, user)
    return _signed_in(session, pool, idp, user, ip), created


def _signed_in(session: Session, pool: UserPool, idp: IdentityProvider, user: User, ip: str | None) -> User:
    audit.record(session, pool.id, "FederatedSignIn", audit.PASS, user=user, ip=ip, provider=idp.name)
    return user


def _linked(session: Session, pool: UserPool, idp: IdentityProvider, identity: Identity,
            mapped: dict[str, str]) -> User | None:
    """The user ``identity`` is linked to (its mapped attributes refreshed when it is a
    federated user), if any."""
    link = find_link(session, pool.id, idp.name, identity.subject)
    if link is None:
        return None
    user = session.get(User, link.user_id)
    assert user is not None  # the link cascades with its user
    _require_enabled(session, pool, user, idp)
    if user.status == EXTERNAL:
        user.attributes = {**user.attributes, **mapped}
    return user


def map_attributes(mapping: dict[str, str], identity: Identity) -> dict[str, str]:
    """Pool attribute ← upstream value, by the IdP's mapping (data, not code). A mapped
    email is verified only when the upstream says so."""
    out = {}
    for pool_attr, upstream in mapping.items():
        value = identity.attributes.get(upstream)
        if value is not None and pool_attr != IDENTITIES:
            out[pool_attr] = str(value)[:MAX_VALUE]
    if "email" in out:  # one valid address or none: an upstream list must not reach two people
        email = clean_email(out.pop("email"))
        if email is not None:
            out["email"] = email
            out.setdefault("email_verified", "true" if identity.email_verified else "false")
        else:
            out.pop("email_verified", None)
    return out


def username_for(idp: IdentityProvider, subject: str) -> str:
    """``<provider>_<subject>``, lower-cased as the pool's usernames are; a subject that
    does not fit a username is replaced by its digest."""
    if not SAFE_SUBJECT.fullmatch(subject):
        subject = _digest(idp, subject)
    return f"{idp.name}_{subject}".lower()


def _digest(idp: IdentityProvider, subject: str) -> str:
    return hashlib.sha256(f"{idp.name}\n{subject}".encode()).hexdigest()[:40]


def free_username(session: Session, pool: UserPool, idp: IdentityProvider, subject: str) -> str:
    """The user's name, or, when another user already has it (``corp``/``x_y`` against
    ``corp_x``/``y``, subjects differing in case, a look-alike native sign-up), a name made
    from the subject's digest; never a failed insert."""
    candidates = [username_for(idp, subject), f"{idp.name}_{_digest(idp, subject)}".lower()]
    for name in candidates:
        if repo.get_user(session, pool.id, name) is None:
            return name
    return f"{candidates[1]}_{secrets.token_hex(4)}"


def _new_user(session: Session, pool: UserPool, username: str, mapped: dict[str, str]) -> User:
    user = User(pool_id=pool.id, username=username, status=EXTERNAL, password_hash=None, attributes=mapped)
    session.add(user)
    session.flush()
    return user


def _linked_by_email(session: Session, pool: UserPool, identity: Identity) -> User | None:
    """With the pool's ``link_by_email``: the confirmed native user whose verified email
    the upstream asserts, also verified."""
    email = (identity.attributes.get("email") or "").strip().lower()
    if not (pool.link_by_email and identity.email_verified and email):
        return None
    stmt = select(User).where(User.pool_id == pool.id, User.status == "CONFIRMED",
                              User.attributes["email"].as_string() == email)
    found = [u for u in session.scalars(stmt) if str(u.attributes.get("email_verified")).lower() == "true"]
    return found[0] if len(found) == 1 else None  # several owners of one address: link nobody


def _require_enabled(session: Session, pool: UserPool, user: User, idp: IdentityProvider) -> None:
    if not user.enabled:
        session.rollback()
        audit.record(session, pool.id, "FederatedSignIn", audit.FAIL, username=user.username, provider=idp.name,
                     reason="disabled")
        session.commit()
        raise HostedError(_("Your account is disabled. Contact your administrator."), 403)
