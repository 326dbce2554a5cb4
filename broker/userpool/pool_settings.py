"""Cognito's user-pool settings (``UserPoolType`` of CreateUserPool, UpdateUserPool and
DescribeUserPool) and what each one is in Cognate:
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_UserPoolType.html

- ``Policies.PasswordPolicy`` → the pool's password policy, ``PasswordHistorySize`` and
  ``TemporaryPasswordValidityDays`` (also ``AdminCreateUserConfig.UnusedAccountValidityDays``)
  → its security settings (:mod:`.security`);
- ``MfaConfiguration``; ``AdminCreateUserConfig.AllowAdminCreateUserOnly`` ↔ no self
  sign-up, and its ``InviteMessageTemplate`` (email) → the invitation message;
  ``VerificationMessageTemplate`` (email, with a code) → the verification message;
- ``Policies.SignInPolicy.AllowedFirstAuthFactors`` → the first factors of choice-based
  sign-in (:mod:`.sign_in_policy`; ``PASSWORD`` among them, as Cognito requires);
- ``Schema`` (at creation) → the attributes required at sign-up;
- ``DeviceConfiguration`` ↔ remembered devices (``remember_devices_days`` > 0);
- ``UserPoolAddOns.AdvancedSecurityMode`` ↔ adaptive authentication: ``ENFORCED`` acts on
  risk, ``AUDIT`` (and ``OFF``: Cognate always scores sign-ins in its audit log) does not.

A setting Cognate does not have is refused with :class:`InvalidInput` naming it, unless
it is given with the value that says what Cognate does anyway (:data:`NEUTRAL`). As
Cognito's UpdateUserPool does, an update sets every setting it leaves out to its default;
settings that only Cognate has (lockout, compromised passwords, SRP, linking by email, the
adaptive policy's levels once ``ENFORCED``) are never touched.

    wanted = from_cognito(params, current=None)      # CreateUserPool's input, checked
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..store.models import UserPool
from ..triggers import settings as trigger_settings
from . import admin, admin_security, audit, messages, sign_in_policy
from .attribute_changes import VERIFIED_BY
from .attributes import STANDARD, check_name
from .passwords import PasswordPolicy
from .security import Security

#: Days a device stays remembered once DeviceConfiguration turns remembering on.
REMEMBER_DAYS = 30
#: Cognito's settings Cognate has no switch for, and the value that describes Cognate.
NEUTRAL: dict[str, Any] = {
    "DeletionProtection": "INACTIVE",
    "UserPoolTags": {},
    "AliasAttributes": [],
    "UsernameAttributes": [],
    "AutoVerifiedAttributes": ["email"],
    "EmailConfiguration": {"EmailSendingAccount": "COGNITO_DEFAULT"},
    "UsernameConfiguration": {"CaseSensitive": False},
    "AccountRecoverySetting": {"RecoveryMechanisms": [{"Priority": 1, "Name": "verified_email"}]},
    "UserAttributeUpdateSettings": {"AttributesRequireVerificationBeforeUpdate": sorted(VERIFIED_BY)},
}
#: Settings translated by :func:`from_cognito` (the others must be :data:`NEUTRAL`).
HANDLED = frozenset({"PoolName", "UserPoolId", "Policies", "MfaConfiguration", "Schema", "AdminCreateUserConfig",
                     "DeviceConfiguration", "UserPoolAddOns", "VerificationMessageTemplate",
                     "EmailVerificationMessage", "EmailVerificationSubject", "LambdaConfig"})
BOOLEAN_ATTRIBUTES = frozenset({"email_verified", "phone_number_verified"})
NUMBER_ATTRIBUTES = frozenset({"updated_at"})
#: Cognito's own string constraints on an attribute: the only ones Cognate takes.
DEFAULT_CONSTRAINTS = {"MinLength": "0", "MaxLength": "2048"}
ALLOW_ALL = {"LOW": "ALLOW", "MEDIUM": "ALLOW", "HIGH": "ALLOW"}


@dataclass(frozen=True)
class PoolSettings:
    """Cognate's settings as Cognito's input gives them, checked and complete."""

    name: str | None
    mfa: str
    self_signup: bool
    password_policy: dict[str, Any]
    #: Fields of :class:`Security` (password_history, temp_password_days,
    #: remember_devices_days, adaptive).
    security: dict[str, Any]
    #: Message kind → its checked template, or None for the default message.
    templates: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    #: Attributes required at sign-up (CreateUserPool's Schema only; None on update).
    required_attributes: list[str] | None = None
    #: LambdaConfig: the triggers' targets, PreTokenGeneration's version, the KMSKeyID.
    triggers: tuple[dict[str, str], str, str | None] = ({}, "V1_0", None)
    #: SignInPolicy's AllowedFirstAuthFactors (None: left out, the password only).
    first_factors: list[str] | None = None


def from_cognito(params: dict[str, Any], current: UserPool | None) -> PoolSettings:
    """The settings of CreateUserPool's input (``current`` None) or UpdateUserPool's for
    ``current``, or :class:`InvalidInput` naming the first one Cognate cannot apply."""
    given = {k: v for k, v in params.items() if v is not None}
    for member, value in given.items():
        if member not in HANDLED and _normal(value) != _normal(NEUTRAL.get(member, _UNSET)):
            raise InvalidInput(_unsupported(member, value))
    policies = given.get("Policies") or {}
    sign_in = policies.get("SignInPolicy")
    factors = sign_in_policy.parse_factors(sign_in.get("AllowedFirstAuthFactors", [sign_in_policy.PASSWORD])) \
        if sign_in is not None else None
    admin_create = given.get("AdminCreateUserConfig") or {}
    policy = _password_policy(policies.get("PasswordPolicy") or {})
    days = (policies.get("PasswordPolicy") or {}).get("TemporaryPasswordValidityDays",
                                                      admin_create.get("UnusedAccountValidityDays"))
    if days is not None and not 1 <= days <= 365:
        raise InvalidInput("Policies.PasswordPolicy.TemporaryPasswordValidityDays must be between 1 and 365")
    security = {"password_history": (policies.get("PasswordPolicy") or {}).get("PasswordHistorySize", 0),
                "temp_password_days": Security.temp_password_days if days is None else days,
                "remember_devices_days": _remember_days(given.get("DeviceConfiguration"), current),
                "adaptive": _adaptive(given.get("UserPoolAddOns"), current)}
    dataclasses.replace(Security.of(current.security if current else None), **security).check()
    templates = {"verification": _verification(given), "invitation": _invitation(admin_create)}
    # Schema is CreateUserPool's only: UpdateUserPool has no such member, and ignores it as AWS does
    required = (_required(given["Schema"]) if "Schema" in given else []) if current is None else None
    return PoolSettings(name=given.get("PoolName"), mfa=given.get("MfaConfiguration", "OFF"),
                        self_signup=not admin_create.get("AllowAdminCreateUserOnly", False),
                        password_policy=policy.as_dict(), security=security, templates=templates,
                        required_attributes=required, first_factors=factors,
                        triggers=trigger_settings.from_cognito(given.get("LambdaConfig") or {}))


def create(session: Session, settings: PoolSettings) -> UserPool:
    """CreateUserPool with checked ``settings`` (:func:`from_cognito`)."""
    pool = admin.create_pool(session, settings.name or "", settings.mfa, settings.self_signup,
                             required_attributes=settings.required_attributes or [],
                             password_policy=settings.password_policy, security=settings.security,
                             templates={k: v for k, v in settings.templates.items() if v})
    trigger_settings.replace(session, pool, *settings.triggers)
    pool.first_factors = settings.first_factors
    return pool


def update(session: Session, pool_id: str, settings: PoolSettings) -> UserPool:
    """UpdateUserPool with checked ``settings``: every one of them is set (the templates
    left out go back to the default messages)."""
    security = {k: v for k, v in settings.security.items() if k != "adaptive"}
    pool = admin_security.update_pool(session, pool_id, mfa=settings.mfa, adaptive=settings.security["adaptive"],
                                      name=settings.name, self_signup=settings.self_signup,
                                      password_policy=settings.password_policy, **security)
    trigger_settings.replace(session, pool, *settings.triggers)  # left out: removed, as Cognito does
    factors = settings.first_factors or [sign_in_policy.PASSWORD]  # (left out: the password only, as Cognito does)
    if sign_in_policy.factors_of(pool) != factors:
        sign_in_policy.update(session, pool.id, factors=factors)
    before = dict(pool.messages or {})
    own = {k: v for k, v in before.items() if k not in settings.templates}
    pool.messages = {**own, **{k: v for k, v in settings.templates.items() if v}}
    if pool.messages != before:
        session.flush()
        audit.record(session, pool.id, "UpdateUserPool", audit.PASS,
                     message_templates=sorted(k for k, v in settings.templates.items() if v))
    return pool


_UNSET = object()


def _normal(value: Any) -> Any:
    """Lists compared without their order."""
    if isinstance(value, list):
        return sorted((_normal(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if v is not None}
    return value


def _unsupported(member: str, value: Any) -> str:
    if member in NEUTRAL:
        return f"{member}: Cognate supports only {NEUTRAL[member]!r} here, not {value!r}"
    return f"{member} is not supported by Cognate"


def _password_policy(given: dict[str, Any]) -> PasswordPolicy:
    names = {"MinimumLength": "min_length", "RequireUppercase": "require_uppercase",
             "RequireLowercase": "require_lowercase", "RequireNumbers": "require_numbers",
             "RequireSymbols": "require_symbols"}
    policy = PasswordPolicy.from_dict({names[k]: v for k, v in given.items() if k in names})
    if not 6 <= policy.min_length <= 99:
        raise InvalidInput("Policies.PasswordPolicy.MinimumLength must be between 6 and 99")
    return policy


def _remember_days(config: dict[str, Any] | None, current: UserPool | None) -> int:
    """DeviceConfiguration given: devices are remembered (for the days the pool had, or
    :data:`REMEMBER_DAYS`); left out: they are not. Cognate remembers a device as soon as
    ConfirmDevice proves it, and asks a new device for the second factor the user has."""
    if config is None:
        return 0
    if config.get("DeviceOnlyRememberedOnUserPrompt"):
        raise InvalidInput("DeviceConfiguration.DeviceOnlyRememberedOnUserPrompt: Cognate remembers a device "
                           "when ConfirmDevice proves it (false only)")
    if config.get("ChallengeRequiredOnNewDevice"):
        raise InvalidInput("DeviceConfiguration.ChallengeRequiredOnNewDevice: Cognate asks a new device for the "
                           "user's own second factor only (false only)")
    days = Security.of(current.security).remember_devices_days if current else 0
    return days or REMEMBER_DAYS


def _adaptive(addons: dict[str, Any] | None, current: UserPool | None) -> dict[str, str]:
    """ENFORCED keeps an enforcing policy the pool has, else takes the default one."""
    mode = (addons or {}).get("AdvancedSecurityMode")
    if (addons or {}).get("AdvancedSecurityAdditionalFlows"):
        raise InvalidInput("UserPoolAddOns.AdvancedSecurityAdditionalFlows is not supported by Cognate")
    if addons is None and current is not None:  # left out of an update: the pool keeps its own
        return dict(Security.of(current.security).adaptive)
    if addons is None or mode == "ENFORCED":
        mine = Security.of(current.security).adaptive if current else ALLOW_ALL
        return dict(mine) if addons is not None and mine != ALLOW_ALL else dict(Security().adaptive)
    return dict(ALLOW_ALL)


def _verification(given: dict[str, Any]) -> dict[str, Any] | None:
    template = given.get("VerificationMessageTemplate") or {}
    if template.get("DefaultEmailOption", "CONFIRM_WITH_CODE") != "CONFIRM_WITH_CODE":
        raise InvalidInput("VerificationMessageTemplate.DefaultEmailOption: Cognate confirms with a code "
                           "(CONFIRM_WITH_CODE only)")
    for member in ("SmsMessage", "EmailMessageByLink", "EmailSubjectByLink"):
        if template.get(member):
            raise InvalidInput(f"VerificationMessageTemplate.{member} is not supported by Cognate")
    return _template("verification", template.get("EmailSubject") or given.get("EmailVerificationSubject"),
                     template.get("EmailMessage") or given.get("EmailVerificationMessage"))


def _invitation(admin_create: dict[str, Any]) -> dict[str, Any] | None:
    template = admin_create.get("InviteMessageTemplate") or {}
    if template.get("SMSMessage"):
        raise InvalidInput("AdminCreateUserConfig.InviteMessageTemplate.SMSMessage is not supported by Cognate")
    return _template("invitation", template.get("EmailSubject"), template.get("EmailMessage"))


def _template(kind: str, subject: str | None, text: str | None) -> dict[str, Any] | None:
    """A message of ``kind``; None (the default) when neither part is given."""
    if subject is None and text is None:
        return None
    return _one_part(kind, subject, text)


def _one_part(kind: str, subject: str | None, text: str | None) -> dict[str, Any]:
    """Cognito lets a template give its subject or its body alone; the other is Cognate's
    default in English (a stored template is not translated)."""
    fallback = {"verification": ("Your verification code", "Your confirmation code is {####}."),
                "invitation": ("Your temporary password",
                               "Your username is {username} and temporary password is {####}.")}[kind]
    return messages.check(kind, subject or fallback[0], text or fallback[1], None)


def _required(schema: list[dict[str, Any]]) -> list[str]:
    """The attributes CreateUserPool's Schema marks required; custom ones are named
    ``custom:<Name>``, as Cognito names them."""
    required = []
    for item in schema:
        name = _attribute_name(item)
        if item.get("DeveloperOnlyAttribute"):
            raise InvalidInput(f"Schema: {name}: developer-only attributes are not supported by Cognate")
        if item.get("Mutable") is False:
            raise InvalidInput(f"Schema: {name}: Cognate cannot make an attribute immutable")
        if item.get("NumberAttributeConstraints") or \
                (item.get("StringAttributeConstraints") or DEFAULT_CONSTRAINTS) != DEFAULT_CONSTRAINTS:
            raise InvalidInput(f"Schema: {name}: Cognate checks values by its own rules (at most 2048 "
                               "characters); constraints are not supported")
        if item.get("Required") and name != "sub":
            required.append(name)
    return list(dict.fromkeys(required))


def _attribute_name(item: dict[str, Any]) -> str:
    name = str(item.get("Name") or "")
    kind = item.get("AttributeDataType", "String")
    if name in STANDARD or name == "sub":
        expected = _data_type(name)
        if kind != expected:
            raise InvalidInput(f"Schema: {name} is a {expected} attribute, not {kind}")
        return name
    full = check_name(name if name.startswith("custom:") else f"custom:{name}")
    if kind != "String":
        raise InvalidInput(f"Schema: {full}: Cognate keeps custom attributes as strings (String only)")
    return full


def _data_type(name: str) -> str:
    return "Boolean" if name in BOOLEAN_ATTRIBUTES else "Number" if name in NUMBER_ATTRIBUTES else "String"


def describe(pool: UserPool, users: int, domain: str | None, modified: Any) -> dict[str, Any]:
    """The pool as Cognito's ``UserPoolType``: ``users`` its number of users, ``domain`` the
    custom domain mapped to it, ``modified`` when its settings last changed."""
    security = Security.of(pool.security)
    policy = PasswordPolicy.from_dict(pool.password_policy)
    out: dict[str, Any] = {
        "Id": pool.id, "Name": pool.name, "Arn": arn(pool.id), "CreationDate": pool.created_at,
        "LastModifiedDate": modified or pool.created_at, "MfaConfiguration": pool.mfa,
        "Policies": {"PasswordPolicy": {
            "MinimumLength": policy.min_length, "RequireUppercase": policy.require_uppercase,
            "RequireLowercase": policy.require_lowercase, "RequireNumbers": policy.require_numbers,
            "RequireSymbols": policy.require_symbols, "PasswordHistorySize": security.password_history,
            "TemporaryPasswordValidityDays": security.temp_password_days},
            "SignInPolicy": {"AllowedFirstAuthFactors": sign_in_policy.factors_of(pool)}},
        "SchemaAttributes": schema(pool), "EstimatedNumberOfUsers": users,
        "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": not pool.self_signup,
                                  "UnusedAccountValidityDays": security.temp_password_days,
                                  "InviteMessageTemplate": _shown("invitation", pool)},
        "VerificationMessageTemplate": {**_shown("verification", pool), "DefaultEmailOption": "CONFIRM_WITH_CODE"},
        "UserPoolAddOns": {"AdvancedSecurityMode": "AUDIT" if security.adaptive == ALLOW_ALL else "ENFORCED"},
        "LambdaConfig": trigger_settings.describe(pool),
        **NEUTRAL,
    }
    if security.remember_devices_days > 0:
        out["DeviceConfiguration"] = {"ChallengeRequiredOnNewDevice": False, "DeviceOnlyRememberedOnUserPrompt": False}
    if domain:
        out["CustomDomain"] = domain
    return out


def arn(pool_id: str) -> str:
    """An ARN-shaped name for the pool (Cognate has no AWS account: the region is the pool
    id's prefix, the account twelve zeros), for tools that expect one."""
    return f"arn:aws:cognito-idp:{pool_id.split('_', 1)[0]}:000000000000:userpool/{pool_id}"


def schema(pool: UserPool) -> list[dict[str, Any]]:
    """Cognito's SchemaAttributes: ``sub``, the standard attributes and the custom ones the
    pool requires (Cognate takes any other ``custom:*`` attribute without a declaration)."""
    names = ["sub", *sorted(STANDARD), *sorted(n for n in pool.required_attributes if n not in STANDARD)]
    return [{"Name": name, "AttributeDataType": _data_type(name), "DeveloperOnlyAttribute": False,
             "Mutable": name != "sub", "Required": name == "sub" or name in pool.required_attributes,
             **({"StringAttributeConstraints": DEFAULT_CONSTRAINTS} if _data_type(name) == "String" else {})}
            for name in names]


def _shown(kind: str, pool: UserPool) -> dict[str, str]:
    own = (pool.messages or {}).get(kind)
    if not own:
        return {}
    return {"EmailSubject": own["subject"], "EmailMessage": own["text"]}
