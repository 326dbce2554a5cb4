"""Failed sign-ins counted per user and per IP, with a growing delay (Redis counters).

After ``free`` failures, each further attempt must wait 2**(n-free) seconds after the last
failure, up to ``max_delay``. Unknown usernames are counted like known ones, so the answer
never tells whether a user exists.
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
                message = ngettext("Too many failed attempts. Try again in %(num)s second.",
                                   "Too many failed attempts. Try again in %(num)s seconds.", remaining)
                raise Throttled(message, remaining)

    def failed(self, pool_id: str, username: str, ip: str, now: float | None = None) -> int:
        """Count a failure; returns the user's count of failures in a row (for the lockout)."""
        now = time.time() if now is None else now
        counts = []
        for key, _free in self._subjects(pool_id, username, ip):
            n = self.state.incr(key + ":n", WINDOW)
            self.state.put(key, {"n": n, "t": now}, WINDOW)
            counts.append(n)
        return counts[0]

    def succeeded(self, pool_id: str, username: str) -> None:
        forget_failures(self.state, pool_id, username)


def forget_failures(state: StateStore, pool_id: str, username: str) -> None:
    """Reset a user's count (a success, or an admin's unlock); the per-IP count stays."""
    key = Keys.failures(pool_id, "user", username)
    state.delete(key, key + ":n")
