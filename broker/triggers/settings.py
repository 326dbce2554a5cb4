"""A pool's triggers (Cognito's ``LambdaConfig``) and its trigger secret.

A target is ``python:package.module:function`` or an ``http(s)://`` URL. The pool keeps
``{"targets": {name: target}, "pre_token_version": "V1_0"}``; DescribeUserPool shows it in
Cognito's shape, where PreTokenGeneration also appears as
``PreTokenGenerationConfig {LambdaVersion, LambdaArn}`` and the custom senders as
``{LambdaVersion: "V1_0", LambdaArn}``
(https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_LambdaConfigType.html).

    set_triggers(session, pool, {"PreSignUp": "python:hooks.signup:handler", "CustomMessage": None})
"""
from __future__ import annotations

import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from .. import sealing
from ..errors import InvalidInput
from ..sealing import Sealer
from ..store.models import UserPool
from ..userpool import audit

#: Cognito's trigger names, in LambdaConfigType's order.
NAMES = ("PreSignUp", "CustomMessage", "PostConfirmation", "PreAuthentication", "PostAuthentication",
         "DefineAuthChallenge", "CreateAuthChallenge", "VerifyAuthChallengeResponse", "PreTokenGeneration",
         "UserMigration", "CustomSMSSender", "CustomEmailSender")
(PRE_SIGN_UP, CUSTOM_MESSAGE, POST_CONFIRMATION, PRE_AUTHENTICATION, POST_AUTHENTICATION, DEFINE_AUTH_CHALLENGE,
 CREATE_AUTH_CHALLENGE, VERIFY_AUTH_CHALLENGE_RESPONSE, PRE_TOKEN_GENERATION, USER_MIGRATION, CUSTOM_SMS_SENDER,
 CUSTOM_EMAIL_SENDER) = NAMES
#: Triggers LambdaConfigType gives as ``{LambdaVersion, LambdaArn}``.
VERSIONED = {"PreTokenGeneration": "PreTokenGenerationConfig", "CustomSMSSender": "CustomSMSSender",
             "CustomEmailSender": "CustomEmailSender"}
PRE_TOKEN_VERSIONS = ("V1_0", "V2_0")
PYTHON = re.compile(r"python:([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*):([A-Za-z_]\w*)")
MAX_TARGET = 2048
SECRET_PURPOSE = "trigger-secret"


def targets(pool: UserPool) -> dict[str, str]:
    return dict((pool.lambda_config or {}).get("targets") or {})


def target(pool: UserPool, name: str) -> str | None:
    config = pool.lambda_config
    return config["targets"].get(name) if config and config.get("targets") else None


def pre_token_version(pool: UserPool) -> str:
    return str((pool.lambda_config or {}).get("pre_token_version") or "V1_0")


def check_target(name: str, value: str) -> str:
    """``value`` as a target of trigger ``name``, or :class:`InvalidInput` saying what a
    target looks like (an AWS Lambda ARN is not one Cognate can run)."""
    if name not in NAMES:
        raise InvalidInput(f"unknown trigger {name!r}: one of {', '.join(NAMES)}")
    value = value.strip()
    if len(value) > MAX_TARGET:
        raise InvalidInput(f"{name}: a target has at most {MAX_TARGET} characters")
    if PYTHON.fullmatch(value):
        return value
    parts = urlsplit(value)
    if parts.scheme in ("http", "https") and parts.hostname and not parts.fragment and not parts.username:
        return value
    raise InvalidInput(f"{name}: {value!r} is not a trigger target: use python:package.module:function "
                       "or an http(s):// URL")


def set_triggers(session: Session, pool: UserPool, changes: dict[str, str | None],
                 version: str | None = None) -> UserPool:
    """Set (a target) or remove (None or "") each trigger of ``changes``; the others stay.
    ``version`` is PreTokenGeneration's event version."""
    current = targets(pool)
    for name, value in changes.items():
        if value:
            current[name] = check_target(name, value)
        elif name in NAMES:
            current.pop(name, None)
        else:
            check_target(name, "")
    replace(session, pool, current, version or pre_token_version(pool))
    return pool


def unchanged(pool: UserPool, found: dict[str, str], version: str, kms_key_id: str | None = None) -> bool:
    """Whether :func:`replace` with these would leave the pool's triggers as they are."""
    current = pool.lambda_config or {}
    return (targets(pool) == found and pre_token_version(pool) == version
            and (current.get("kms_key_id") or None) == (kms_key_id or None))


def replace(session: Session, pool: UserPool, found: dict[str, str], version: str,
            kms_key_id: str | None = None) -> None:
    if version not in PRE_TOKEN_VERSIONS:
        raise InvalidInput(f"the PreTokenGeneration version must be one of {', '.join(PRE_TOKEN_VERSIONS)}")
    before = pool.lambda_config or {}
    config: dict[str, Any] = {"targets": dict(sorted(found.items())), "pre_token_version": version}
    if kms_key_id:
        config["kms_key_id"] = kms_key_id
    if config == before:
        return
    pool.lambda_config = config
    if any(t.startswith("http") for t in found.values()):
        secret(session, pool)  # a webhook's first event is already signed
    session.flush()
    audit.record(session, pool.id, "UpdateUserPool", audit.PASS, triggers=sorted(found), pre_token_version=version)


def from_cognito(given: dict[str, Any]) -> tuple[dict[str, str], str, str | None]:
    """UpdateUserPool's ``LambdaConfig``: the targets, PreTokenGeneration's version and the
    KMSKeyID (kept and shown back: codes for webhook senders are encrypted under the trigger
    secret, see :mod:`.senders`)."""
    found: dict[str, str] = {}
    version = "V1_0"
    for name in NAMES:
        plain = given.get(name) if name not in ("CustomSMSSender", "CustomEmailSender") else None
        nested = given.get(VERSIONED[name]) if name in VERSIONED else None
        arn = nested.get("LambdaArn") if isinstance(nested, dict) else None
        if plain and arn and plain != arn:
            raise InvalidInput(f"LambdaConfig: {name} and {VERSIONED[name]}.LambdaArn name different targets")
        if name == "PreTokenGeneration" and isinstance(nested, dict):
            version = nested.get("LambdaVersion") or version
        if plain or arn:
            try:
                found[name] = check_target(name, str(plain or arn))
            except InvalidInput as exc:
                raise InvalidInput(f"LambdaConfig.{exc.message}") from None
    if version not in PRE_TOKEN_VERSIONS:
        raise InvalidInput(f"LambdaConfig.PreTokenGenerationConfig.LambdaVersion: Cognate runs "
                           f"{' and '.join(PRE_TOKEN_VERSIONS)} events, not {version}")
    return found, version, given.get("KMSKeyID")


def describe(pool: UserPool) -> dict[str, Any]:
    """The pool's LambdaConfig as Cognito shows it."""
    out: dict[str, Any] = {}
    for name, value in targets(pool).items():
        if name in ("CustomSMSSender", "CustomEmailSender"):
            out[name] = {"LambdaVersion": "V1_0", "LambdaArn": value}
            continue
        out[name] = value
        if name == "PreTokenGeneration":
            out["PreTokenGenerationConfig"] = {"LambdaVersion": pre_token_version(pool), "LambdaArn": value}
    kms = (pool.lambda_config or {}).get("kms_key_id")
    if kms:
        out["KMSKeyID"] = kms
    return out


def readable_secret(sealer: Sealer, pool: UserPool) -> str | None:
    """The pool's trigger secret, if it has one this deployment can open (read only: an
    event is never signed, nor a code encrypted, under a secret made in passing, which no
    receiver knows)."""
    found = sealer.unseal(SECRET_PURPOSE, pool.trigger_secret, bound_to=pool.id)
    return found.decode() if found is not None else None


def secret(session: Session, pool: UserPool, rotate: bool = False) -> str:
    """The pool's trigger secret (made on first use, or anew with ``rotate``, or when the
    deployment's secret key changed since it was sealed), which signs webhook events;
    stored sealed. Changing a pool's triggers or the CLI makes it; invocations only read it
    (:func:`readable_secret`)."""
    sealer = sealing.of(session)
    current = readable_secret(sealer, pool)
    if current is not None and not rotate:
        return current
    value = secrets.token_urlsafe(32)
    pool.trigger_secret = sealer.seal(SECRET_PURPOSE, value.encode(), bound_to=pool.id)
    session.flush()
    audit.record(session, pool.id, "RotateTriggerSecret" if current is not None else "CreateTriggerSecret", audit.PASS)
    return value
