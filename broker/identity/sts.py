"""Temporary credentials from an STS, as Cognito's enhanced flow obtains them: one
``AssumeRoleWithWebIdentity`` with the identity's OpenID token and the chosen role, session
name ``CognitoIdentityCredentials`` (AWS STS refuses the ``:`` of an identity id there).
https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html

The STS is ``BROKER_STS_ENDPOINT`` (MinIO, Ceph RGW, moto...) or, unset, AWS's STS of
``BROKER_STS_REGION``. The call is unsigned, as the operation is (the token is the proof),
through botocore's own ``sts`` client: one per process, keeping its connections, with short
timeouts so that a slow STS fails the request instead of holding a worker.

STS's refusals become Cognito's errors for GetCredentialsForIdentity
(https://docs.aws.amazon.com/cognitoidentity/latest/APIReference/API_GetCredentialsForIdentity.html):
the role's trust policy or the role itself → ``InvalidIdentityPoolConfigurationException``
("STS returned an error response"), the token → ``NotAuthorizedException``, throttling →
``TooManyRequestsException``, anything else (unreachable, a 5xx, an answer that is not
STS's) → ``InternalErrorException``. The details go to the log, never to the caller.

    credentials = assume_role(settings, "arn:aws:iam::123456789012:role/Auth", token, 3600)
    # {"AccessKeyId": ..., "SecretKey": ..., "SessionToken": ..., "Expiration": 1767225600}
"""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

import botocore.session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from ..config import Settings
from .errors import Refused, misconfigured, not_authorized, throttled

log = logging.getLogger("broker.identity")

#: The session name Cognito gives every session it opens (RoleSessionName, ``[\w+=,.@-]{2,64}``).
SESSION_NAME = "CognitoIdentityCredentials"
#: Seconds to connect to the STS and to wait for its answer; one retry (botocore's standard
#: mode) covers a pooled connection the STS closed meanwhile.
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 5
CONFIG = Config(signature_version=UNSIGNED, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                retries={"max_attempts": 2, "mode": "standard"}, max_pool_connections=20, tcp_keepalive=True)

#: STS error codes that mean the pool's role (or its trust policy) is wrong for this token.
ROLE_ERRORS = frozenset({"AccessDenied", "AccessDeniedException", "MalformedPolicyDocument",
                         "PackedPolicyTooLarge", "RegionDisabledException", "ValidationError",
                         "NoSuchEntity", "InvalidParameterValue"})
#: STS error codes that mean the token itself was refused.
TOKEN_ERRORS = frozenset({"InvalidIdentityToken", "IDPRejectedClaim", "ExpiredTokenException",
                          "ExpiredToken", "InvalidClientTokenId"})
THROTTLED = frozenset({"Throttling", "ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"})

_clients: dict[tuple[int, str, str], Any] = {}
_lock = threading.Lock()


def client(settings: Settings) -> Any:
    """The process's ``sts`` client for the configured endpoint (made at first use, never at
    import; a forked worker makes its own)."""
    key = (os.getpid(), settings.sts_endpoint, settings.sts_region)
    found = _clients.get(key)
    if found is None:
        with _lock:
            found = _clients.get(key)
            if found is None:
                session = botocore.session.get_session()
                found = session.create_client("sts", region_name=settings.sts_region,
                                              endpoint_url=settings.sts_endpoint or None, config=CONFIG)
                _clients[key] = found
    return found


def assume_role(settings: Settings, role_arn: str, web_identity_token: str, duration: int) -> dict[str, Any]:
    """Credentials for ``role_arn`` in Cognito's ``Credentials`` shape (``Expiration`` in
    epoch seconds: Amplify multiplies it by 1000), or :class:`Refused`."""
    params = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME, "WebIdentityToken": web_identity_token,
              "DurationSeconds": duration}
    try:
        try:
            answer = client(settings).assume_role_with_web_identity(**params)
        except ClientError as exc:
            if not _duration_refused(exc):
                raise
            # An STS whose bounds are narrower than the asked duration: its own default.
            del params["DurationSeconds"]
            answer = client(settings).assume_role_with_web_identity(**params)
    except ClientError as exc:
        raise _refusal(exc, role_arn) from None
    except (BotoCoreError, ResponseParserError) as exc:  # unreachable, timed out, not STS's answer
        log.warning("STS %s unavailable for %s: %s", _where(settings), role_arn, exc)
        raise _unavailable() from None
    return _credentials(answer, role_arn)


def _duration_refused(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "ValidationError" and "DurationSeconds" in str(error.get("Message", ""))


def _refusal(exc: ClientError, role_arn: str) -> Refused:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", ""))
    log.warning("STS refused AssumeRoleWithWebIdentity for %s: %s %s", role_arn, code, message)
    if code in ROLE_ERRORS:
        return misconfigured()
    if code in TOKEN_ERRORS:
        return not_authorized("STS refused the identity's token: check that it trusts "
                       "this identity pool's issuer.")
    if code in THROTTLED:
        return throttled("Too many requests to STS. Try again later.")
    return _unavailable()


def _credentials(answer: dict[str, Any], role_arn: str) -> dict[str, Any]:
    found = answer.get("Credentials") or {}
    expiration = found.get("Expiration")
    if not (found.get("AccessKeyId") and found.get("SecretAccessKey") and hasattr(expiration, "timestamp")):
        log.warning("STS answered AssumeRoleWithWebIdentity for %s without credentials", role_arn)
        raise _unavailable()
    return {"AccessKeyId": found["AccessKeyId"], "SecretKey": found["SecretAccessKey"],
            "SessionToken": found.get("SessionToken", ""), "Expiration": int(expiration.timestamp())}


def _unavailable() -> Refused:
    """Answered with status 500 (:func:`broker.api.errors.from_broker`): SDKs try again."""
    return Refused("InternalErrorException", "Credentials could not be obtained from STS. Try again.")


def _where(settings: Settings) -> str:
    return settings.sts_endpoint or f"of AWS in {settings.sts_region}"
