"""Administration of pools, users and groups (the CLI's operations, shaped like Cognito's
Admin* API; app clients: :mod:`.app_clients`, resource servers: :mod:`.resource_servers`). Every function validates all its input
before writing anything and raises :class:`InvalidInput` with one clear line.
"""
from __future__ import annotations

import datetime as dt
import logging
import secrets
import string
from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidInput, PasswordRejected, ResourceMissing, UserNotFound, UsernameExists
from ..oauth import keys
from ..store import repo
from ..store.models import User, UserPool, utcnow
from ..triggers import signup
from . import audit, hash_formats, password_rules, srp_verifiers
from .attribute_changes import current, describe_pending
from .passwords import PasswordPolicy, hash_password
from .attributes import attribute_types, check_attributes, check_name
from .security import Security
from .usernames import check_username

MFA = ("OFF", "OPTIONAL", "ON")
_ALNUM = string.ascii_letters + string.digits
log = logging.getLogger("broker.audit")  # a deleted pool's own audit log goes with it


def random_text(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def create_pool(
    session: Session, name: str, mfa: str = "OFF", self_signup: bool = True,
    signing_alg: str = "RS256", required_attributes: list[str] | None = None,
    password_policy: dict[str, Any] | None = None, security: dict[str, Any] | None = None,
    templates: dict[str, dict[str, Any]] | None = None,
) -> UserPool:
    """CreateUserPool. ``security`` holds :class:`Security` settings other than the
    defaults; ``templates`` messages of the pool's own, each checked by
    :func:`broker.userpool.messages.check`."""
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidInput("pool name must have 1 to 128 characters")
    if mfa not in MFA:
        raise InvalidInput(f"--mfa must be one of {', '.join(MFA)}")
    if signing_alg not in keys.SUPPORTED_ALGS:
        raise InvalidInput(f"signing algorithm must be one of {', '.join(keys.SUPPORTED_ALGS)}")
    required = list(required_attributes if required_attributes is not None else ["email"])
    for attribute in required:
        check_name(attribute)
    policy = check_password_policy(password_policy)
    settings = Security.of(security).check()
    pool = UserPool(
        id=f"local_{random_text(_ALNUM, 9)}", name=name, mfa=mfa, self_signup=self_signup,
        signing_alg=signing_alg, required_attributes=required, password_policy=policy,
        security=settings.as_dict(), messages=dict(templates or {}),
    )
    session.add(pool)
    session.flush()
    keys.POOL_KEY_ROWS.generate(session, pool)
    audit.record(session, pool.id, "CreateUserPool", audit.PASS, name=name, mfa=mfa, self_signup=self_signup,
                 signing_alg=signing_alg, required_attributes=required)
    return pool


def check_password_policy(policy: dict[str, Any] | None) -> dict[str, Any]:
    """A password policy (:class:`PasswordPolicy` fields; Cognito's bounds) made complete."""
    checked = PasswordPolicy.from_dict(policy)
    if not 6 <= checked.min_length <= 99:
        raise InvalidInput("password minimum length must be between 6 and 99")
    return checked.as_dict()


def require_pool(session: Session, pool_id: str) -> UserPool:
    pool = repo.get_pool(session, pool_id)
    if pool is None:
        raise ResourceMissing(f"no user pool {pool_id!r}")
    return pool


def delete_pool(session: Session, pool_id: str) -> None:
    """DeleteUserPool: the pool and everything in it (clients, users, their tokens, keys,
    IdPs, branding, audit log) go with its row (``ON DELETE CASCADE``). Its tokens no longer
    verify (the JWKS is gone) and its hosted pages answer 404 on every node at once: the
    deletion moves the configuration version. What the state store holds for it expires."""
    pool = require_pool(session, pool_id)
    session.delete(pool)
    session.flush()
    log.info("DeleteUserPool %s (%s)", pool.id, pool.name)  # its own audit log goes with it


def create_user(
    session: Session, pool_id: str, username: str, password: str | None = None,
    attributes: dict[str, str] | None = None, confirmed: bool = False, groups: list[str] | None = None,
    password_hash: str | None = None, validation: dict[str, str] | None = None,
) -> tuple[User, str | None]:
    """AdminCreateUser: with ``confirmed`` the password is permanent, otherwise temporary
    (FORCE_CHANGE_PASSWORD, working for the pool's ``temp_password_days``). Without a
    password a temporary one is generated and returned (the caller sends the invitation).
    ``password_hash`` imports a user from another system (the formats of
    :mod:`.hash_formats`); it is upgraded to Argon2id at the user's first sign-in.
    With ``validation`` (the call's ValidationData), the pool's PreSignUp trigger runs
    (``PreSignUp_AdminCreateUser``) once the input is checked, before anything is written."""
    pool = require_pool(session, pool_id)
    username = check_username(username)
    if repo.get_user(session, pool.id, username):
        raise UsernameExists(f"user {username!r} already exists")
    attributes = check_attributes(attributes or {})
    policy = PasswordPolicy.from_dict(pool.password_policy)
    temporary = None
    if password_hash is not None:
        if password is not None:
            raise InvalidInput("--password-hash takes the place of --password: give one of them")
        password_hash = hash_formats.recognise(password_hash)
    elif password is None:
        temporary = password = generate_password(policy)
    problems = password_rules.problems(pool, password) if password is not None else []
    if problems:
        raise PasswordRejected(problems)
    found = []
    for name in dict.fromkeys(groups or []):
        group = repo.get_group(session, pool.id, name)
        if group is None:
            raise ResourceMissing(f"no group {name!r} in pool {pool.id}")
        found.append(group)
    if validation is not None:
        signup.pre_sign_up(session, pool, signup.ADMIN_CREATE_USER, username, attributes, validation)
    if confirmed and "email" in attributes:
        attributes.setdefault("email_verified", "true")
    status = "CONFIRMED" if confirmed and not temporary else "FORCE_CHANGE_PASSWORD"
    user = User(
        pool_id=pool.id, username=username, password_hash=password_hash or hash_password(password or ""),
        status=status, attributes=attributes,
        temp_password_expires_at=temporary_expiry(pool) if status == "FORCE_CHANGE_PASSWORD" and password else None,
    )
    session.add(user)
    session.flush()
    password_rules.remember(session, pool, user)
    if password is not None:  # (an imported hash gets its verifier at the first sign-in)
        srp_verifiers.remember(session, pool, user, password)
    audit.record(session, pool.id, "AdminCreateUser", audit.PASS, user=user, status=status)
    for group in found:
        repo.add_user_to_group(session, user, group)
        audit.record(session, pool.id, "AdminAddUserToGroup", audit.PASS, user=user, group=group.name)
    return user, temporary


def temporary_expiry(pool: UserPool) -> dt.datetime:
    """When a temporary password set now stops working (Cognito's TemporaryPasswordValidityDays)."""
    return utcnow() + dt.timedelta(days=Security.of(pool.security).temp_password_days)


def generate_password(policy: PasswordPolicy) -> str:
    picks = [secrets.choice(string.ascii_lowercase), secrets.choice(string.ascii_uppercase),
             secrets.choice(string.digits), secrets.choice("!@#$%^&*-_=+")]
    rest = [secrets.choice(_ALNUM) for _ in range(max(policy.min_length, 16) - len(picks))]
    chars = picks + rest
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def delete_user(session: Session, pool_id: str, username: str) -> None:
    """AdminDeleteUser. What the user holds ends with it: token families are revoked (access
    tokens refused at userInfo and introspection), refresh tokens, devices and factors go
    with the row, and hosted sessions and codes name a user that no longer exists."""
    remove_user(session, pool_id, require_user(session, pool_id, username))


def remove_user(session: Session, pool_id: str, user: User, event: str = "AdminDeleteUser") -> None:
    """Delete ``user`` as :func:`delete_user` describes (DeleteUser: the user's own request)."""
    repo.revoke_user_tokens(session, user)
    audit.record(session, pool_id, event, audit.PASS, username=user.username)
    session.delete(user)


def require_user(session: Session, pool_id: str, username: str) -> User:
    user = repo.get_user(session, pool_id, username.strip())
    if user is None:
        raise UserNotFound(f"no user {username!r} in pool {pool_id}")
    return user


def describe_user(user: User) -> dict[str, Any]:
    """A user as Cognito's ListUsers shows it; values waiting for verification (see
    :mod:`attribute_changes`) as ``PendingVerification``, never as attributes."""
    out = {
        "Username": user.username, "Sub": user.sub, "Attributes": attribute_types(user.sub, current(user)),
        "Enabled": user.enabled,
        "UserStatus": user.status, "UserCreateDate": user.created_at.isoformat(),
        "UserLastModifiedDate": user.updated_at.isoformat(),
        "Groups": [g.name for g in user.groups],
    }
    waiting = describe_pending(user)
    return {**out, "PendingVerification": waiting} if waiting else out
