"""Which key signs (:func:`broker.oauth.keys._signing`) when a new key must be published
for a while before it signs, as identities' keys are: the predecessor signs until then; a
second rotation meanwhile keeps the order; a family's first key signs at once."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from broker.oauth.keys import _signing

NOW = dt.datetime(2025, 6, 1, 12, 0, 0)


def key(name: str, age: int) -> SimpleNamespace:
    return SimpleNamespace(name=name, created_at=NOW - dt.timedelta(seconds=age))


def test_a_new_key_signs_once_it_has_been_published_long_enough() -> None:
    old, new = key("old", 86_400), key("new", 10)
    assert _signing([new, old], NOW, 300).name == "old"
    assert _signing([key("new", 301), old], NOW, 300).name == "new"
    assert _signing([new, old], NOW, 0).name == "new"  # a user pool's keys sign at once


def test_the_first_key_signs_at_once_and_two_rotations_keep_their_order() -> None:
    assert _signing([key("first", 0)], NOW, 300).name == "first"
    assert _signing([key("second", 10), key("first", 200)], NOW, 300).name == "first"
    assert _signing([key("third", 10), key("second", 400), key("first", 900)], NOW, 300).name == "second"
