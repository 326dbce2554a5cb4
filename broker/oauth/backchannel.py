"""OpenID Connect Back-Channel Logout 1.0 (https://openid.net/specs/openid-connect-backchannel-1_0.html):
an app client with a back-channel logout URL (``broker client create/update
--backchannel-logout-url``) is told, server to server, when a session it holds ends.

Which clients are told:

- a hosted sign-out (``/logout``, either form): the clients the browser's sign-in session
  gave a code or tokens to (:func:`note_client`, at each redirect to the app), with the
  session's ``sid`` (the ID tokens' ``sid``) and the user's ``sub``;
- a sign-out everywhere (GlobalSignOut, AdminUserGlobalSignOut, a disable, a password
  reset, a deletion...): every client the user held a live refresh token of, with ``sub``
  only, which the spec reads as "every session of this user" (§2.4). The store notes them
  while it revokes (:data:`broker.store.repo.SIGNED_OUT`) and they are told once the
  transaction commits (:func:`announce`), never for one that rolled back.

The logout token (§2.4) is a JWT signed by the pool's key, header ``typ: logout+jwt``,
claims ``iss``, ``aud`` (the client), ``iat``, ``exp`` (two minutes), ``jti``, ``events``
``{"http://schemas.openid.net/event/backchannel-logout": {}}``, ``sub``, ``sid`` when the
session is known, and never ``nonce``. It is minted at delivery and POSTed as
``application/x-www-form-urlencoded`` ``logout_token=...`` (§2.5) to the URL registered
then (nowhere else: no redirect is followed), after the answer, through the outbox: a
receiver that is down or slow never slows or fails a sign-out. A 2xx answer is a success;
a 4xx is the app's refusal, audited and not tried again; anything else (no answer within
the webhooks' 5 s, a 5xx) is tried again, three times in all. Each outcome is audited as
``BackChannelLogout``.
"""
from __future__ import annotations

import logging
import time
import uuid
from typing import Any, Callable, Iterable
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from ..store import repo
from ..store.cache import ConfigCache
from ..store.db import Database
from ..store.models import AppClient
from ..store.state import Keys, StateStore
from ..triggers import invoke
from ..triggers.webhooks import Unreachable
from ..userpool import audit
from ..userpool.senders import DeliveryFailed, Logout
from .issue import issuer
from .keys import KeyCache
from .tokens import sign

log = logging.getLogger("broker.backchannel")

EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Seconds a logout token is good for: it is minted just before it is sent.
TTL = 120
TYP = "logout+jwt"


def logout_claims(iss: str, client_id: str, sub: str, sid: str | None, now: int, jti: str) -> dict[str, Any]:
    """The claims of a logout token (§2.4).

    >>> sorted(logout_claims("https://idp/p", "c", "u", None, 100, "j"))
    ['aud', 'events', 'exp', 'iat', 'iss', 'jti', 'sub']
    """
    claims: dict[str, Any] = {"iss": iss, "aud": client_id, "iat": now, "exp": now + TTL, "jti": jti,
                              "events": {EVENT: {}}, "sub": sub}
    if sid:
        claims["sid"] = sid
    return claims


def note_client(state: StateStore, ttl: int, pool_id: str, sid: str, client: AppClient) -> None:
    """Remember that the hosted session ``sid`` signed ``client`` in, if the client is to be
    told of sign-outs (one key per client, so that two tabs never undo each other's note)."""
    if client.backchannel_logout_url:
        state.put(Keys.session_client(pool_id, sid, client.id), {"at": int(time.time())}, ttl)


def session_ended(session: Session, config: ConfigCache, state: StateStore, channel: Any, pool_id: str,
                  entry: dict[str, Any] | None) -> None:
    """The hosted session ``entry`` (:func:`broker.web.flow.stored_sign_in`) was signed out:
    queue a logout for each client it signed in that has a back-channel logout URL."""
    sid, sub = (entry or {}).get("sid"), (entry or {}).get("sub")
    if not isinstance(sid, str) or not isinstance(sub, str):
        return
    clients = config.backchannel_clients(session, pool_id)
    keys = [Keys.session_client(pool_id, sid, c.id) for c in clients]
    noted = state.get_many(keys) if keys else []
    if keys:
        state.delete(*keys)
    announce(channel, [Logout(pool_id, c.id, sub, sid) for c, seen in zip(clients, noted) if seen])


def announce(channel: Any, logouts: Iterable[Logout]) -> None:
    """Queue ``logouts`` on ``channel`` (the server's outbox), or deliver them at once where
    there is none (``channel`` is then the function that delivers, as the CLI's)."""
    later = getattr(channel, "later", None)
    for logout in logouts:
        if later is not None:
            later(logout)
        else:
            channel(logout)


def signed_out(channel: Any) -> Callable[[list[list[str]]], None]:
    """What :attr:`broker.store.db.Database.sign_outs_committed` calls: the committed
    sign-outs everywhere (``[pool_id, client_id, sub]``) announced on ``channel``."""
    def tell(rows: list[list[str]]) -> None:
        announce(channel, dict.fromkeys(Logout(pool_id, client_id, sub) for pool_id, client_id, sub in rows))
    return tell


def deliver(session: Session, keys: KeyCache, base_url: str, logout: Logout) -> None:
    """Mint and POST one logout token to the client's URL as registered now (none, or the
    client or pool gone: nobody to tell). Raises :class:`DeliveryFailed` to be tried again."""
    pool = repo.get_pool(session, logout.pool_id)
    client = repo.get_client(session, logout.pool_id, logout.client_id) if pool is not None else None
    if pool is None or client is None or not client.backchannel_logout_url:
        return
    claims = logout_claims(issuer(base_url, pool.id), client.id, logout.sub, logout.sid, int(time.time()),
                           str(uuid.uuid4()))
    body = urlencode({"logout_token": sign(claims, keys.get(session, pool), typ=TYP)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "Cognate-Logout/1",
               "Cache-Control": "no-store"}
    details = {"client_id": client.id, "sub": logout.sub, "sid": logout.sid}
    try:
        status = invoke.of(session).webhooks.send(client.backchannel_logout_url, body, headers)
    except Unreachable as exc:
        _record(session, pool.id, audit.FAIL, reason=str(exc), **details)
        raise DeliveryFailed(str(exc)) from None
    if 200 <= status < 300:
        _record(session, pool.id, audit.PASS, status=status, **details)
    elif 400 <= status < 500:  # the app refused this token: another of the same would fare no better
        _record(session, pool.id, audit.FAIL, status=status, reason="refused", **details)
    else:
        _record(session, pool.id, audit.FAIL, status=status, **details)
        raise DeliveryFailed(f"HTTP {status}")


def _record(session: Session, pool_id: str, outcome: str, **details: Any) -> None:
    """The ``BackChannelLogout`` audit event, kept even when the delivery is tried again."""
    audit.record(session, pool_id, "BackChannelLogout", outcome, **details)
    session.commit()


def courier(db: Database, keys: KeyCache, base_url: str) -> Callable[[Logout], None]:
    """How the outbox (or the CLI, at once) delivers a logout: in a session of its own; a
    database that is away is :class:`DeliveryFailed` too, never the courier's end."""
    def run(logout: Logout) -> None:
        try:
            with db.session() as session:
                deliver(session, keys, base_url, logout)
        except DeliveryFailed:
            raise
        except Exception as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
    return run


def told_now(run: Callable[[Logout], None]) -> Callable[[Logout], None]:
    """``run`` for a caller without an outbox (the CLI): a failure is logged, not raised."""
    def now(logout: Logout) -> None:
        try:
            run(logout)
        except DeliveryFailed as exc:
            log.error("could not tell app client %s of a sign-out: %s", logout.client_id, exc)
    return now
