"""Rate limits on one-time codes and the mail they cost: how many codes may be sent, and
how many guesses at them made, per user, per user and network address, and per address.

Every limit is a bucket of :meth:`~broker.store.state.StateStore.spend`: a burst, then one
more try per interval. Buckets are keyed by the username as typed (normalised), whether or
not the user exists, so a refusal tells nothing about the account; it answers like Cognito's
``LimitExceededException``.

Guessing a code (confirmation, password reset) is bounded per user over hours, not per
code: a new code brings no new guesses. A stranger can spend the user's bucket, so the
owner's own browser — a device the user has completed a sign-in from — has a bucket of its
own, and a stranger's guesses from one address run out long before the user's do. With the
defaults below a user's reset code can be guessed at most
``GUESS_USER.per_day() = 58`` times a day (odds of about 1 in 17,000 a day for a
six-digit code), from any number of addresses.
"""
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ..errors import LimitExceeded
from ..i18n import gettext as _
from ..store.models import User
from ..store.state import Keys, StateStore
from . import risk


@dataclass(frozen=True)
class Limit:
    name: str
    burst: int
    interval: float  # seconds until one more try comes back

    def per_day(self) -> int:
        """The most tries a day: the burst, then one per interval."""
        return self.burst + math.floor(86400 / self.interval)


#: Guesses at a user's code from anywhere: 10 at once, then one every 30 minutes.
GUESS_USER = Limit("guess-user", 10, 1800)
#: Guesses at a user's code from one network address: 5 at once, then one an hour.
GUESS_USER_IP = Limit("guess-user-ip", 5, 3600)
#: Guesses from a device the user has signed in from: the owner's own bucket.
GUESS_DEVICE = Limit("guess-device", 5, 600)
#: Guesses from one address, at any users' codes.
GUESS_IP = Limit("guess-ip", 30, 20)
#: Codes sent to one user: 3 at once (a cool-down after them), 10 a day.
SEND_USER_BURST = Limit("send-user", 3, 60)
SEND_USER_DAY = Limit("send-user-day", 10, 8640)
#: Code and notice requests from one address, for any users.
SEND_IP = Limit("send-ip", 20, 30)
#: Sign-ups from one address.
SIGN_UP_IP = Limit("sign-up-ip", 10, 60)
#: "Someone tried to sign up with your username" notices: one an hour per user.
NOTICE_USER = Limit("notice-user", 1, 3600)


def spend(state: StateStore, pool_id: str, limit: Limit, *subject: str) -> float:
    """One try from ``limit``'s bucket for ``subject``: 0 when allowed, else seconds to wait."""
    return state.spend(Keys.rate(pool_id, limit.name, *subject), limit.interval, limit.burst)


def require(state: StateStore, pool_id: str, *buckets: tuple[Limit, tuple[str, ...]]) -> None:
    """Spend a try from each bucket in turn; :class:`LimitExceeded` at the first that is empty."""
    for limit, subject in buckets:
        wait = spend(state, pool_id, limit, *subject)
        if wait > 0:
            raise LimitExceeded(_("Attempt limit exceeded, please try after some time."), math.ceil(wait))


def network(address: str | None) -> str:
    """What a rate per client counts: the IPv4 address, or the /64 of an IPv6 one (one
    subscriber's whole prefix, which it can draw new addresses from at will)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "-"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return f"{ipaddress.ip_network(f'{ip}/64', strict=False).network_address}/64"
    return str(ip)


@dataclass(frozen=True)
class Requester:
    """Who asks: the client's network address and, from a browser, its device key."""

    ip: str
    device_key: str | None = None


def guess(session: Session, state: StateStore, pool_id: str, purpose: str, username: str,
          user: User | None, requester: Requester) -> None:
    """Count one guess at ``username``'s ``purpose`` code, before it is checked (so that
    guesses sent at once are counted too); :class:`LimitExceeded` when it may not be checked."""
    name = f"{purpose}:{username}"
    buckets: list[tuple[Limit, tuple[str, ...]]] = [(GUESS_IP, (requester.ip,))]
    device = _own_device(session, user, requester)
    if device is not None:
        buckets.append((GUESS_DEVICE, (name, device)))
    else:
        buckets += [(GUESS_USER_IP, (name, requester.ip)), (GUESS_USER, (name,))]
    require(state, pool_id, *buckets)


def send(session: Session, state: StateStore, pool_id: str, username: str, user: User | None,
         requester: Requester) -> None:
    """Count a request for a code to ``username``; :class:`LimitExceeded` when none may be sent
    now (the code sent last stays good). The owner's own device asks on a quota of its own."""
    device = _own_device(session, user, requester)
    owner = (username, device) if device is not None else (username,)
    require(state, pool_id, (SEND_IP, (requester.ip,)), (SEND_USER_BURST, owner), (SEND_USER_DAY, owner))


def _own_device(session: Session, user: User | None, requester: Requester) -> str | None:
    """The requester's device, hashed, when ``user`` has completed a sign-in from it."""
    if user is None or not requester.device_key or risk.find_device(session, user, requester.device_key) is None:
        return None
    return risk.device_hash(requester.device_key)
