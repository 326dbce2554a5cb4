"""The keys that sign identities' OpenID tokens (issuer ``<BASE_URL>/identity``): one
family for every identity pool, as Cognito signs all of a region's with one JWKS
(https://cognito-identity.amazonaws.com/.well-known/jwks_uri). RS512, as Cognito's.

They are rotated as a user pool's are (:func:`broker.oauth.keys.rotate`): the old keys stay
published until the longest-lived token they signed (GetOpenIdTokenForDeveloperIdentity's
24 hours) has expired. A new key is published :data:`PUBLISH_AHEAD` seconds (the JWKS's
cache lifetime) before it signs: an STS holding the JWKS it read just before the rotation
must never meet a token under a key it does not know.

    signing = current(session, runtime).signing      # runtime.identity_keys: KeyCache(30, IDENTITY_KEY_ROWS)
    new = rotate(session)
    kids = [k.kid for k in IDENTITY_KEY_ROWS.published(session, None)]
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from ..oauth.keys import SKEW, KeyCache, KeyRows, ParsedKeys, retire
from ..store.models import IdentityKey, utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

ALG = "RS512"
#: The longest an OpenID token of an identity lives (TokenDuration's maximum).
MAX_TOKEN_SECONDS = 86_400
#: Seconds the JWKS may be cached (its Cache-Control), and that a new key waits to sign.
PUBLISH_AHEAD = 300


@dataclass(frozen=True)
class _Issuer:
    """The one owner of these keys, as :class:`~broker.oauth.keys.KeyCache` names owners."""

    id: str = "identity"


ISSUER = _Issuer()
IDENTITY_KEY_ROWS = KeyRows(IdentityKey, None, ALG, PUBLISH_AHEAD)


def cache(session: Session, runtime: Runtime) -> KeyCache:
    """The parsed keys' cache, as of now: a rotation made elsewhere (the CLI, another node)
    is seen as soon as the configuration cache sees it."""
    runtime.config.refresh(session)
    return runtime.identity_keys


def current(session: Session, runtime: Runtime) -> ParsedKeys:
    """The keys, parsed, as of now."""
    return cache(session, runtime).get(session, ISSUER)


def rotate(session: Session, now: dt.datetime | None = None) -> IdentityKey:
    """A new key, published now, signing in :data:`PUBLISH_AHEAD` seconds; the old ones
    sign until then and stay in the JWKS a day (and :data:`~broker.oauth.keys.SKEW`) longer."""
    now = now or utcnow()
    retire(IDENTITY_KEY_ROWS.active(session, None), now, MAX_TOKEN_SECONDS + SKEW, PUBLISH_AHEAD)
    return IDENTITY_KEY_ROWS.generate(session, ISSUER)


