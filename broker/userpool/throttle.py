"""Failed sign-ins counted per user and per IP, with a growing delay (Redis counters).

After ``free`` failures, each further attempt must wait 2**(n-free) seconds after the last
failure, up to ``max_delay``. Unknown usernames are counted like known ones, so the answer
never tells whether a user exists.

A user's attempt is counted when it starts, before the ~50 ms password hash is checked
(:meth:`Throttle.attempt`): attempts sent at once each get their own number from one atomic
increment, so a burst cannot pass the delay together; a success then clears the count. The
per-IP count stays a count of failures (a shared address signs many people in).
"""
from __future__ import annotations

import time

from ..errors import Throttled
from ..i18n import ngettext
from ..store.state import Keys, StateStore

WINDOW = 3600
IP_FACTOR = 10


class Throttle:
    def __init__(self, state: StateStore, free: int, max_delay: int) -> None:
        self.state, self.free, self.max_delay = state, free, max_delay

    def _subjects(self, pool_id: str, username: str, ip: str) -> list[tuple[str, int]]:
        return [(Keys.failures(pool_id, "user", username), self.free),
                (Keys.failures(pool_id, "ip", ip), self.free * IP_FACTOR)]

    def check(self, pool_id: str, username: str, ip: str, now: float | None = None) -> None:
        now = time.time() if now is None else now
        subjects = self._subjects(pool_id, username, ip)
        records = self.state.get_many([key for key, _free in subjects])
        for (_key, free), record in zip(subjects, records):
            if not record or record["n"] < free:
                continue
            wait = min(2 ** (record["n"] - free), self.max_delay)
            remaining = int(record["t"] + wait - now + 0.999)
            if remaining > 0:
                raise Throttled(_wait_message(remaining), remaining)

    def attempt(self, pool_id: str, username: str, ip: str, now: float | None = None) -> None:
        """Wait out earlier failures (:meth:`check`), then count this attempt for the user
        before its password is checked. :class:`Throttled` (the attempt counted) when an
        attempt before it is still in flight or too recent, as a burst's are."""
        now = time.time() if now is None else now
        self.check(pool_id, username, ip, now)
        key = Keys.failures(pool_id, "user", username)
        n = self.state.incr(key + ":n", WINDOW)
        previous = self.state.get(key)
        self.state.put(key, {"n": max(n, previous["n"]) if previous else n, "t": now}, WINDOW)
        if n <= self.free:
            return
        # attempt n-1 has not written its record yet: it is in flight, as recent as can be
        last = previous["t"] if previous and previous["n"] >= n - 1 else now
        remaining = int(last + min(2 ** (n - 1 - self.free), self.max_delay) - now + 0.999)
        if remaining > 0:
            raise Throttled(_wait_message(remaining), remaining)

    def wrong_answer(self, pool_id: str, username: str, ip: str, now: float | None = None) -> None:
        """Count a failure for the user and the IP that was not counted when it started (a
        wrong answer to a CUSTOM_CHALLENGE: the sign-in's start was the attempt)."""
        now = time.time() if now is None else now
        key = Keys.failures(pool_id, "user", username)
        n = self.state.incr(key + ":n", WINDOW)
        self.state.put(key, {"n": n, "t": now}, WINDOW)
        self.failed(pool_id, ip, now)

    def failed(self, pool_id: str, ip: str, now: float | None = None) -> None:
        """Count a failure for the IP (the user's attempt was counted when it started)."""
        now = time.time() if now is None else now
        key = Keys.failures(pool_id, "ip", ip)
        n = self.state.incr(key + ":n", WINDOW)
        self.state.put(key, {"n": n, "t": now}, WINDOW)

    def succeeded(self, pool_id: str, username: str) -> None:
        forget_failures(self.state, pool_id, username)


class UserOnlyThrottle(Throttle):
    """The throttle without its per-address count, for password checks whose address is not
    the user's: a backend's AdminInitiateAuth without ContextData comes from the backend's
    one address for every user it signs in, and one stranger's failures there must not slow
    them all down. The per-user count (and the lockout) still hold."""

    def _subjects(self, pool_id: str, username: str, ip: str) -> list[tuple[str, int]]:
        return super()._subjects(pool_id, username, ip)[:1]

    def failed(self, pool_id: str, ip: str, now: float | None = None) -> None:
        """No per-address count."""


def forget_failures(state: StateStore, pool_id: str, username: str) -> None:
    """Reset a user's count (a success, or an admin's unlock); the per-IP count stays."""
    key = Keys.failures(pool_id, "user", username)
    state.delete(key, key + ":n")


def _wait_message(seconds: int) -> str:
    return ngettext("Too many failed attempts. Try again in %(num)s second.",
                    "Too many failed attempts. Try again in %(num)s seconds.", seconds)
