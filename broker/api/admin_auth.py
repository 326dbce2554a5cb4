"""Sign-ins a backend runs for its users with an admin key: AdminInitiateAuth and
AdminRespondToAuthChallenge. They are InitiateAuth and RespondToAuthChallenge through the
same code (:func:`.auth_operations.begin` and :func:`.auth_operations.respond`, over the
engine of :mod:`broker.engine`): the same lockout, MFA, risk and audit rules, the same
challenges and ``Session`` strings, the same tokens. What differs:

- the call names its pool (``UserPoolId``), which the key must be allowed, and an app
  client of that pool;
- ADMIN_USER_PASSWORD_AUTH (and its older name ADMIN_NO_SRP_AUTH) sends the password, if
  the client allows ``ALLOW_ADMIN_USER_PASSWORD_AUTH``; USER_SRP_AUTH, CUSTOM_AUTH and
  REFRESH_TOKEN_AUTH / REFRESH_TOKEN work as at InitiateAuth; USER_PASSWORD_AUTH does not
  (Cognito's AuthFlow for AdminInitiateAuth);
- the user's own address, which the backend passes on in ``ContextData.IpAddress``, is
  what lockout, limits and risk weigh, as Cognito's advanced security does.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AdminInitiateAuth.html
"""
from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from ..store.models import AppClient, UserPool
from . import auth_operations, custom_auth_operations, refresh_operations
from .call import Call
from .errors import AwsError
from .registry import operation

FLOWS: dict[str, auth_operations.Flow] = {
    "ADMIN_USER_PASSWORD_AUTH": auth_operations.password_flow("ALLOW_ADMIN_USER_PASSWORD_AUTH"),
    "ADMIN_NO_SRP_AUTH": auth_operations.password_flow("ALLOW_ADMIN_USER_PASSWORD_AUTH"),
    "USER_SRP_AUTH": auth_operations.srp_auth,
    "REFRESH_TOKEN_AUTH": refresh_operations.refresh_token_auth,
    "REFRESH_TOKEN": refresh_operations.refresh_token_auth,
    "CUSTOM_AUTH": custom_auth_operations.custom_auth_flow,
}


@operation("AdminInitiateAuth")
def admin_initiate_auth(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = _client(call, params)
    return auth_operations.begin(_as_user(call, params), client, pool, params, FLOWS)


@operation("AdminRespondToAuthChallenge")
def admin_respond_to_auth_challenge(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    client, pool = _client(call, params)
    return auth_operations.respond(_as_user(call, params), client, pool, params)


def _client(call: Call, params: dict[str, Any]) -> tuple[AppClient, UserPool]:
    """The pool the key may act on, and its app client ``ClientId`` (of no other pool)."""
    pool = call.admin_pool(params["UserPoolId"])
    client, of_pool = call.client(params)
    if of_pool.id != pool.id:
        raise AwsError("ResourceNotFoundException", f"User pool client {client.id} does not exist.")
    return client, pool


def _as_user(call: Call, params: dict[str, Any]) -> Call:
    """The call as from the user's address when the backend says it (a valid IP address).
    Otherwise the backend's own address stands for every user it signs in: the password
    throttle then counts per user only, so that one stranger's failures through the backend
    do not slow everyone's sign-in down."""
    given = (params.get("ContextData") or {}).get("IpAddress")
    try:
        address = str(ipaddress.ip_address(given)) if isinstance(given, str) else None
    except ValueError:
        address = None
    return dataclasses.replace(call, ip=address) if address else dataclasses.replace(call, ip_is_users=False)
