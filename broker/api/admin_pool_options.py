"""A pool's MFA configuration (GetUserPoolMfaConfig, SetUserPoolMfaConfig) and its custom
domain (CreateUserPoolDomain, DescribeUserPoolDomain, DeleteUserPoolDomain), signed with an
admin key.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_SetUserPoolMfaConfig.html

**MFA:** a factor's configuration given turns it on for the pool's users, one left out
turns it off, as on Cognito. Cognate writes its own code messages (translated into the
user's language), so a custom ``Message``/``Subject``/``SmsAuthenticationMessage`` is
refused; an ``SmsConfiguration`` (an SNS role) is accepted and unused: Cognate sends text
messages through its own SMS webhook. ``WebAuthnConfiguration`` (``RelyingPartyId``,
``UserVerification``) sets the pool's passkeys (:mod:`broker.userpool.sign_in_policy`); given
alone, it leaves the MFA configuration as it is.

**Domains:** a custom domain serves a pool's hosted pages at ``/``; the mapping is the
server's configuration (``BROKER_DOMAINS``, or the ``[domains]`` table of ``BROKER_CONFIG``),
read by every node when it starts. So these operations describe the mapping and confirm a
domain already mapped to the pool; adding or removing one is a configuration change, and
the answer says which.
"""
from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..store.models import UserPool
from ..userpool import admin_security, mfa, sign_in_policy
from .call import Call
from .errors import AwsError
from .registry import operation

#: Cognito's name of each factor's configuration.
FACTOR_CONFIGS = {"SoftwareTokenMfaConfiguration": mfa.TOTP, "EmailMfaConfiguration": mfa.EMAIL_OTP,
                  "SmsMfaConfiguration": mfa.SMS_OTP}
#: Message settings of each configuration, which Cognate does not take.
OWN_MESSAGES = {"EmailMfaConfiguration": ("Message", "Subject"), "SmsMfaConfiguration": ("SmsAuthenticationMessage",)}


@operation("GetUserPoolMfaConfig")
def get_user_pool_mfa_config(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    return mfa_config(call.admin_pool(params["UserPoolId"]))


@operation("SetUserPoolMfaConfig")
def set_user_pool_mfa_config(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """The MFA configuration given; ``WebAuthnConfiguration`` alone (as Cognito allows it
    to be set apart from MFA) leaves MFA as it is. Everything is checked before anything
    is written."""
    pool = call.admin_pool(params["UserPoolId"])
    web_authn = params.get("WebAuthnConfiguration")
    if web_authn is not None:
        sign_in_policy.parse_web_authn(web_authn, pool)
    if web_authn is None or params.get("MfaConfiguration") is not None or \
            any(params.get(m) is not None for m in FACTOR_CONFIGS):
        pool = admin_security.set_mfa_config(call.session, pool.id, params.get("MfaConfiguration") or pool.mfa,
                                             _methods(params))
    if web_authn is not None:
        pool = sign_in_policy.update(call.session, pool.id, web_authn=web_authn)
    return mfa_config(pool)


def _methods(params: dict[str, Any]) -> list[str]:
    """The second factors SetUserPoolMfaConfig turns on (a configuration left out: off)."""
    methods = []
    for member, factor in FACTOR_CONFIGS.items():
        config = params.get(member)
        if config is None or config.get("Enabled") is False:
            continue
        own = [name for name in OWN_MESSAGES.get(member, ()) if config.get(name) is not None]
        if own:
            raise AwsError("InvalidParameterException",
                           f"{member}.{own[0]} is not supported by Cognate: it sends its own translated messages.")
        methods.append(factor)
    return methods


def mfa_config(pool: UserPool) -> dict[str, Any]:
    """GetUserPoolMfaConfig's answer: the mode, the second factors, and the passkey settings
    of a pool that has some or allows passkeys."""
    methods = pool.mfa_methods
    out: dict[str, Any] = {"MfaConfiguration": pool.mfa,
                           "SoftwareTokenMfaConfiguration": {"Enabled": mfa.TOTP in methods}}
    if mfa.EMAIL_OTP in methods:
        out["EmailMfaConfiguration"] = {}
    if mfa.SMS_OTP in methods:
        out["SmsMfaConfiguration"] = {}
    described = sign_in_policy.describe(pool)
    if pool.web_authn or sign_in_policy.WEB_AUTHN in sign_in_policy.factors_of(pool):
        out["WebAuthnConfiguration"] = {k: v for k, v in described["WebAuthnConfiguration"].items()
                                        if k in ("RelyingPartyId", "UserVerification")}
    return out


@operation("CreateUserPoolDomain")
def create_user_pool_domain(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    domain = params["Domain"].lower()
    mapped = call.runtime.settings.domains.get(domain)
    if mapped == pool.id:
        return {"CloudFrontDomain": _target(call)}
    if mapped is not None:
        raise AwsError("InvalidParameterException", "Domain already associated with another user pool.")
    raise AwsError("InvalidParameterException",
                   f"Cognate maps custom domains in its configuration: add {domain}={pool.id} to BROKER_DOMAINS "
                   "(or the [domains] table of BROKER_CONFIG) on every node and restart them.")


@operation("DescribeUserPoolDomain")
def describe_user_pool_domain(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """An unknown domain, or one of a pool the key may not see, is an empty description."""
    domain = params["Domain"].lower()
    pool_id = call.runtime.settings.domains.get(domain)
    if pool_id is None or not call.may_act_on(pool_id):
        return {"DomainDescription": {}}
    return {"DomainDescription": {"UserPoolId": pool_id, "AWSAccountId": "000000000000", "Domain": domain,
                                  "CloudFrontDistribution": _target(call), "Version": "1", "Status": "ACTIVE"}}


@operation("DeleteUserPoolDomain")
def delete_user_pool_domain(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    pool = call.admin_pool(params["UserPoolId"])
    domain = params["Domain"].lower()
    if call.runtime.settings.domains.get(domain) != pool.id:
        raise AwsError("InvalidParameterException", "No such domain or user pool exists.")
    raise AwsError("InvalidParameterException",
                   f"Cognate maps custom domains in its configuration: remove {domain} from BROKER_DOMAINS "
                   "(or the [domains] table of BROKER_CONFIG) on every node and restart them.")


def _target(call: Call) -> str:
    """Where a custom domain's DNS name points: this server's own host."""
    return urlsplit(call.runtime.settings.base_url).hostname or ""
