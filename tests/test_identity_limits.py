"""The per-pool limit of identity pools' public calls (:mod:`broker.identity.limits`), on
the in-process state store: a pool takes so many calls a second from all networks; other
pools are not held back; 0 is no limit."""
from __future__ import annotations

from broker.config import Settings
from broker.identity.limits import admit
from broker.store.state import MemoryState
from tests.aws_identity import refusal


def test_a_pool_takes_so_many_calls_a_second_from_all_networks() -> None:
    state, settings = MemoryState(), Settings(identity_calls_per_minute=0, identity_pool_calls_per_second=2)
    admit(state, settings, "local:busy", "192.0.2.1")
    admit(state, settings, "local:busy", "192.0.2.2")
    assert refusal(lambda: admit(state, settings, "local:busy", "192.0.2.3")) == ("TooManyRequestsException",
                                                                                  "Rate exceeded")
    admit(state, settings, "local:quiet", "192.0.2.3")


def test_no_limit_at_zero() -> None:
    state, settings = MemoryState(), Settings(identity_calls_per_minute=0, identity_pool_calls_per_second=0)
    for n in range(500):
        admit(state, settings, "local:busy", f"192.0.2.{n % 250}")
