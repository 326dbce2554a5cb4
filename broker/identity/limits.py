"""How often identity pools' public operations (GetId, GetCredentialsForIdentity,
GetOpenIdToken) may be called: they need no credentials, and each may verify a token,
write an identity, sign a token and call the STS. Per client network and identity pool
(``BROKER_IDENTITY_CALLS_PER_MINUTE``, a minute's worth at once) and per identity pool from
everywhere (``BROKER_IDENTITY_POOL_CALLS_PER_SECOND``), as buckets of
:mod:`broker.userpool.limits`; past either, Cognito's ``TooManyRequestsException``, which
the SDKs retry after a pause.

    admit(runtime.state, runtime.settings, pool.id, call.ip)
"""
from __future__ import annotations

from ..config import Settings
from ..store.state import StateStore
from ..userpool import limits
from .errors import throttled


def admit(state: StateStore, settings: Settings, pool_id: str, address: str) -> None:
    """Count one call to ``pool_id`` from ``address``; TooManyRequestsException
    when its network's bucket or the pool's is empty."""
    per_network, per_pool = settings.identity_calls_per_minute, settings.identity_pool_calls_per_second
    buckets = []
    if per_network:
        buckets.append((limits.Limit("identity-network", per_network, 60 / per_network), (limits.network(address),)))
    if per_pool:
        buckets.append((limits.Limit("identity-pool", per_pool, 1 / per_pool), ()))
    for limit, subject in buckets:
        if limits.spend(state, pool_id, limit, *subject) > 0:
            raise throttled()
