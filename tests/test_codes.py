"""One-time codes (sign-up, reset, second factor by email or text): five tries per code, and
asking for new codes buys no more than ten tries an hour per user and purpose. On the
in-process store and real Redis."""
from __future__ import annotations

import secrets

import pytest

from broker.store.state import MemoryState, RedisState
from broker.userpool import codes


@pytest.fixture(params=["memory", "redis"])
def state(request, redis_url):
    return MemoryState() if request.param == "memory" else RedisState(redis_url)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_code_takes_five_tries_then_not_even_the_right_one(state):
    pool, user = f"local_{secrets.token_hex(4)}", "ann"
    code = codes.issue(state, pool, "reset", user, 3600)
    for _ in range(codes.MAX_TRIES):
        assert not codes.check(state, pool, "reset", user, wrong(code), 3600)
    assert not codes.consume(state, pool, "reset", user, code, 3600)


def test_new_codes_do_not_buy_more_than_ten_tries_an_hour(state):
    pool, user = f"local_{secrets.token_hex(4)}", "ann"
    for _ in range(codes.MAX_TRIES_PER_HOUR // codes.MAX_TRIES):
        code = codes.issue(state, pool, "reset", user, 3600)
        for _ in range(codes.MAX_TRIES):
            assert not codes.check(state, pool, "reset", user, wrong(code), 3600)
    fresh = codes.issue(state, pool, "reset", user, 3600)
    assert not codes.consume(state, pool, "reset", user, fresh, 3600)  # the hour's tries are spent
    other = codes.issue(state, pool, "signup", user, 3600)  # another purpose counts apart
    assert codes.consume(state, pool, "signup", user, other, 3600)
