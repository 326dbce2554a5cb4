"""Refusals of identity-pool operations, in Cognito's error types and words: raised by the
modules of :mod:`broker.identity` (below the API) and answered by
:func:`broker.api.errors.from_broker` as ``{"__type": aws_type, "message": message}``.
https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/CommonErrors.html

    raise not_authorized(UNAUTHENTICATED)
"""
from __future__ import annotations

from ..errors import BrokerError

#: Cognito's messages that apps and SDKs match on.
UNAUTHENTICATED = "Unauthenticated access is not supported for this identity pool."
NOT_SUPPORTED = "Token is not from a supported provider of this identity pool."
LOGINS_DONT_MATCH = "Logins don't match. Please include at least one valid login for this identity or identity pool."
BAD_SIGNATURE = "Invalid login token. Couldn't verify signed token."
ISSUER_MISMATCH = "Invalid login token. Issuer doesn't match providerName"
NOT_ID_TOKEN = "Invalid login token. Not a valid OpenId Connect identity token."
CLASSIC_FLOW_OFF = "Basic (classic) flow is not enabled, please use enhanced flow."
CLASSIC_FLOW_MAPPINGS = "Basic (classic) flow is not supported with RoleMappings, please use enhanced flow."
#: When the pool has no role for the identity, or the STS refused the role.
CONFIGURATION = "Invalid identity pool configuration. Check assigned IAM roles for this pool."
#: When a call is throttled.
RATE_EXCEEDED = "Rate exceeded"


class Refused(BrokerError):
    """A cognito-identity error: ``aws_type`` is its ``__type``."""

    def __init__(self, aws_type: str, message: str) -> None:
        super().__init__(message)
        self.aws_type = aws_type


def not_authorized(message: str) -> Refused:
    return Refused("NotAuthorizedException", message)


def invalid_parameter(message: str) -> Refused:
    return Refused("InvalidParameterException", message)


def not_found(message: str) -> Refused:
    return Refused("ResourceNotFoundException", message)


def misconfigured() -> Refused:
    """The pool has no role for the identity, or the STS refused the role or its trust."""
    return Refused("InvalidIdentityPoolConfigurationException", CONFIGURATION)


def throttled(message: str = RATE_EXCEEDED) -> Refused:
    return Refused("TooManyRequestsException", message)


def expired(exp: int, now: int) -> Refused:
    """Cognito's words for an expired login token: "Token expired: <now> >= <exp>"."""
    return not_authorized(f"Invalid login token. Token expired: {now} >= {exp}")


def identity_not_found(identity_id: str) -> Refused:
    return not_found(f"Identity '{identity_id}' not found.")


def forbidden(identity_id: str) -> Refused:
    """A disabled identity (merged into another, whose logins were not given)."""
    return not_authorized(f"Access to Identity '{identity_id}' is forbidden.")


def conflict(message: str) -> Refused:
    return Refused("ResourceConflictException", message)


def unavailable(provider: str) -> Refused:
    """The provider that must vouch for a login could not be reached."""
    return Refused("ExternalServiceException", f"Error validating the login token with {provider}. Try again.")
