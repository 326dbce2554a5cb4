"""What an app client lets its callers do at the JSON API: its authentication flows
(Cognito's ``ExplicitAuthFlows``) and the proof of its secret (``SECRET_HASH``).

- **Auth flows**: unset, Cognito's defaults, ``ALLOW_USER_SRP_AUTH``,
  ``ALLOW_CUSTOM_AUTH`` and ``ALLOW_REFRESH_TOKEN_AUTH``
  (https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_CreateUserPoolClient.html#CognitoUserPools-CreateUserPoolClient-request-ExplicitAuthFlows).
  The values are the ``ExplicitAuthFlowsType`` enum of AWS's model, less the three
  deprecated names without ``ALLOW_`` (Cognito refuses mixing them with the new ones).
- **Secret hash**: ``Base64(HMAC-SHA256(key=client secret, message=username + client id))``
  (https://docs.aws.amazon.com/cognito/latest/developerguide/signing-up-users-in-your-app.html#cognito-user-pools-computing-secret-hash).
  The HMAC is keyed with the secret itself, so the secret is kept sealed
  (:mod:`broker.sealing`) next to its hash; clients made before it was kept have none
  until their secret is rotated.

    >>> secret_hash("s3cr3t", "alice", "client1")
    'fCAqzbXMBFv913e80qdJL+ZcaIH/qgqG+MROjbtZN/A='
"""
from __future__ import annotations

import base64
import enum
import hashlib
import hmac

from sqlalchemy.orm import Session

from .. import sealing
from ..errors import InvalidInput
from ..store import repo
from ..store.models import AppClient

DEFAULT_AUTH_FLOWS = frozenset({"ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"})
#: Deprecated values and the names that replace them.
LEGACY_AUTH_FLOWS = {"ADMIN_NO_SRP_AUTH": "ALLOW_ADMIN_USER_PASSWORD_AUTH",
                     "USER_PASSWORD_AUTH": "ALLOW_USER_PASSWORD_AUTH",
                     "CUSTOM_AUTH_FLOW_ONLY": "ALLOW_CUSTOM_AUTH"}
SEAL_PURPOSE = "client-secret"


def auth_flow_names() -> tuple[str, ...]:
    """Every value ``--auth-flow`` takes: AWS's enum without the deprecated names."""
    from ..api.model import enum_values  # AWS's model is data; reading it here keeps one copy

    return tuple(v for v in enum_values("cognito-idp", "ExplicitAuthFlowsType") if v not in LEGACY_AUTH_FLOWS)


def check_auth_flows(flows: list[str] | None) -> list[str] | None:
    """A client's ExplicitAuthFlows as given: known names, no repeats; None stays None."""
    if flows is None:
        return None
    known = auth_flow_names()
    for flow in flows:
        if flow in LEGACY_AUTH_FLOWS:
            raise InvalidInput(f"auth flow {flow} is deprecated: use {LEGACY_AUTH_FLOWS[flow]}")
        if flow not in known:
            raise InvalidInput(f"unknown auth flow {flow!r}: one of {', '.join(known)}")
    return list(dict.fromkeys(flows))


def allowed_auth_flows(client: AppClient) -> set[str]:
    """The flows ``client`` allows (``ALLOW_...`` names)."""
    if client.explicit_auth_flows is None:
        return set(DEFAULT_AUTH_FLOWS)
    return set(client.explicit_auth_flows)


def seal_secret(session: Session, client: AppClient, clear: str) -> None:
    """Keep ``clear``, ``client``'s secret, sealed to the client's row."""
    client.secret_sealed = sealing.of(session).seal(SEAL_PURPOSE, clear.encode(), bound_to=client.id)


def secret_of(session: Session, client: AppClient) -> str | None:
    """``client``'s secret in clear (DescribeUserPoolClient shows it, as Cognito does); None
    for a public client, or one whose secret was kept before secrets were sealed."""
    if client.secret_hash is None or client.secret_sealed is None:
        return None
    raw = sealing.of(session).unseal(SEAL_PURPOSE, client.secret_sealed, bound_to=client.id)
    return raw.decode() if raw is not None else None


def check_client_secret(client: AppClient, given: str | None) -> bool:
    """Whether ``given`` is ``client``'s secret itself (``ClientSecret`` of
    GetTokensFromRefreshToken and RevokeToken); a client without a secret needs none."""
    if client.secret_hash is None:
        return True
    return bool(given) and hmac.compare_digest(client.secret_hash, repo.sha256(given or ""))


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class SecretCheck(enum.Enum):
    OK = "ok"
    MISSING = "missing"  # the client has a secret, the caller sent no hash
    WRONG = "wrong"
    UNSEALED = "unsealed"  # the client has a secret this server cannot read: rotate it


def check_secret_hash(session: Session, client: AppClient, username: str, given: str | None) -> SecretCheck:
    """Whether ``given`` proves ``client``'s secret for ``username``; a client without a
    secret needs no proof."""
    if client.secret_hash is None:
        return SecretCheck.OK
    if not given:
        return SecretCheck.MISSING
    secret = sealing.of(session).unseal(SEAL_PURPOSE, client.secret_sealed, bound_to=client.id)
    if secret is None:
        return SecretCheck.UNSEALED
    expected = secret_hash(secret.decode(), username, client.id)
    return SecretCheck.OK if hmac.compare_digest(expected.encode(), given.encode()) else SecretCheck.WRONG
