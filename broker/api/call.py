"""One call of a JSON API operation: what an operation gets besides its input, and the
checks every unauthenticated Cognito operation starts with (the app client, its secret
hash, its auth flows), answered with Cognito's error types and messages. Those messages
are Cognito's own English, not translated: apps and SDKs match on them.

    client, pool = call.client(params)          # ResourceNotFoundException if unknown
    call.check_secret_hash(client, params["Username"], params)
    call.check_auth_flow(client, "ALLOW_USER_PASSWORD_AUTH")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy.orm import Session

from ..identity import pools as identity_pools
from ..identity.errors import identity_not_found
from ..runtime import Runtime
from ..store.models import AdminKey, AppClient, Identity, IdentityPool, UserPool
from ..userpool import admin_keys, client_auth
from ..userpool.client_auth import SecretCheck
from ..userpool.limits import Requester
from ..userpool.throttle import Throttle, UserOnlyThrottle
from .errors import AwsError


@dataclass
class Call:
    """``session`` is the request's database session (committed by the protocol layer when
    the operation returns or refuses with an AWS error, rolled back on a crash);
    ``runtime`` the broker's resources (state, sender, config cache...); ``ip`` the
    client's address (after ProxyFix); ``request_id`` the ``x-amzn-RequestId`` answered;
    ``headers`` the request's headers (for signed operations)."""

    session: Session
    runtime: Runtime
    ip: str
    request_id: str
    operation: str
    headers: Mapping[str, str]
    #: The admin key that signed the call (operations that need SigV4 only).
    admin_key: AdminKey | None = None
    #: Whether ``ip`` is the user's own address (not a backend's that calls for every user).
    ip_is_users: bool = True

    @property
    def requester(self) -> Requester:
        """Who asks, for the per-address limits of :mod:`broker.userpool.limits`."""
        return Requester(self.ip)

    @property
    def throttle(self) -> Throttle:
        """The password throttle every password check goes through, at either door; without
        its per-address count when ``ip`` is not the user's (:class:`UserOnlyThrottle`)."""
        settings = self.runtime.settings
        kind = Throttle if self.ip_is_users else UserOnlyThrottle
        return kind(self.runtime.state, settings.lockout_free_attempts, settings.lockout_max_delay)

    def client(self, params: dict[str, Any]) -> tuple[AppClient, UserPool]:
        """The app client ``params["ClientId"]`` names and its pool (cached, read-only rows)."""
        client_id = params.get("ClientId", "")
        client = self.runtime.config.client_by_id(self.session, client_id)
        pool = self.runtime.config.pool(self.session, client.pool_id) if client is not None else None
        if client is None or pool is None:
            raise AwsError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client, pool

    def check_secret_hash(self, client: AppClient, username: str, params: dict[str, Any]) -> None:
        """The caller proves ``client``'s secret for ``username`` when the client has one:
        ``SecretHash``, or ``SECRET_HASH`` among ``AuthParameters`` / ``ChallengeResponses``."""
        given = params.get("SecretHash") or (params.get("AuthParameters") or {}).get("SECRET_HASH") \
            or (params.get("ChallengeResponses") or {}).get("SECRET_HASH")
        verdict = client_auth.check_secret_hash(self.session, client, username, given)
        if verdict is SecretCheck.MISSING:
            raise AwsError("NotAuthorizedException",
                           f"Client {client.id} is configured for secret but secret was not received")
        if verdict is SecretCheck.WRONG:
            raise AwsError("NotAuthorizedException", f"Unable to verify secret hash for client {client.id}")
        if verdict is SecretCheck.UNSEALED:
            raise AwsError("NotAuthorizedException",
                           f"Client {client.id} has a secret this server cannot check: rotate it with "
                           f"`broker client rotate-secret --pool {client.pool_id} --client {client.id}`")

    def check_auth_flow(self, client: AppClient, flow: str) -> None:
        """``flow`` (an ``ALLOW_...`` name) must be among ``client``'s ExplicitAuthFlows;
        Cognito answers "USER_PASSWORD_AUTH flow not enabled for this client"."""
        if flow not in client_auth.allowed_auth_flows(client):
            raise AwsError("InvalidParameterException", f"{flow.removeprefix('ALLOW_')} flow not enabled for this client")

    def may_act_on(self, pool_id: str | None) -> bool:
        """Whether the admin key that signed the call may act on ``pool_id`` (a user or an
        identity pool; None: on every pool, as creating one needs)."""
        return self.admin_key is not None and admin_keys.allows(self.admin_key, pool_id)

    def require_every_pool(self, aws_type: str, needing: str) -> None:
        """What only a key for every pool may do: create a pool (it would be outside a scoped
        key's scope from its first moment), or set triggers (they run inside the deployment)."""
        if not self.may_act_on(None):
            raise AwsError(aws_type, f"The admin key {self._key_id} is limited to some pools: {needing} "
                           "needs a key for every pool.")

    def admin_pool(self, pool_id: str) -> UserPool:
        """The pool a signed call names, if its admin key may act on it: a key scoped to other
        pools is refused before the pool is looked up, so it learns nothing of them."""
        if not self.may_act_on(pool_id):
            raise AwsError("AccessDeniedException", f"The admin key {self._key_id} may not act on user pool {pool_id}.")
        pool = self.runtime.config.pool(self.session, pool_id)
        if pool is None:
            raise AwsError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        return pool

    def admin_identity_pool(self, pool_id: str) -> IdentityPool:
        """The identity pool a signed call names, as :meth:`admin_pool` finds a user pool
        (Cognito's identity service answers NotAuthorizedException)."""
        if not self.may_act_on(pool_id):
            raise AwsError("NotAuthorizedException", f"The admin key {self._key_id} may not act on identity pool "
                           f"{pool_id}.")
        return identity_pools.require(self.session, pool_id)

    def admin_identity(self, identity_id: str) -> Identity:
        """The identity a signed call names, if its admin key may act on its pool (else it is
        "not found", whether it exists or not)."""
        identity = self.session.get(Identity, identity_id) if isinstance(identity_id, str) else None
        if identity is None or not self.may_act_on(identity.pool_id):
            raise identity_not_found(identity_id)
        return identity

    @property
    def _key_id(self) -> str:
        return self.admin_key.id if self.admin_key is not None else "-"
