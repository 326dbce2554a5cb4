"""What a trigger's ``response`` members may be: each checked for its kind, anything else
Cognito's ``InvalidLambdaResponseException`` ("Unrecognizable lambda output",
:func:`broker.triggers.invoke.invalid`). Null stands for a member left as it was sent.

    confirm = flag(response.get("autoConfirmUser"))      # True, False (null: False)
    claims = obj(details.get("claimsToAddOrOverride"))   # a dict (null: {})
"""
from __future__ import annotations

from typing import Any, Collection

from .invoke import invalid


def obj(value: Any) -> dict[str, Any]:
    """An object (null: an empty one)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid()
    return value


def flag(value: Any) -> bool:
    """A boolean (null: false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid()
    return value


def string(value: Any, limit: int | None = None) -> str | None:
    """A string of at most ``limit`` characters, or null."""
    if value is not None and (not isinstance(value, str) or (limit is not None and len(value) > limit)):
        raise invalid()
    return value


def choice(value: Any, allowed: Collection[str]) -> str | None:
    """One of ``allowed``, or null."""
    if value is not None and value not in allowed:
        raise invalid()
    return value


def string_list(value: Any) -> list[str]:
    """A list of strings (null: an empty one)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid()
    return value


def string_map(value: Any) -> dict[str, str]:
    """A map of strings to strings (null: an empty one)."""
    found = obj(value)
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in found.items()):
        raise invalid()
    return dict(found)
