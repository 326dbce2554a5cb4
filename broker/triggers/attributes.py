"""A user's attributes as every trigger event carries them (``request.userAttributes``):
https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-working-with-lambda-triggers.html

Every value a string (booleans as ``"true"``/``"false"``, ``identities`` as its JSON), with
``sub`` and ``cognito:user_status``; values still waiting for verification (a new email
before its code) and Cognate's own bookkeeping left out, as Cognito sends them:

    user_attributes(user)  # {"sub": "...", "cognito:user_status": "CONFIRMED", "email": "a@example.com", ...}
"""
from __future__ import annotations

import json
from typing import Any

from ..store.models import User


def user_attributes(user: User | None) -> dict[str, str]:
    """``user``'s attributes as an event carries them (a name the pool lacks: none)."""
    # (imported here: userpool/ sends its codes and creates its users through the triggers)
    from ..userpool.attribute_changes import current
    from ..userpool.idps import IDENTITIES

    if user is None:
        return {}
    found = {"sub": user.sub, "cognito:user_status": user.status}
    for name, value in sorted(current(user).items()):
        if name == IDENTITIES and not isinstance(value, str):
            found[name] = json.dumps(value, separators=(",", ":"))
        elif not name.startswith(("_", "cognate:")):
            found[name] = text(value)
    return found


def text(value: Any) -> str:
    """An attribute's value as a trigger sees it or answers it: a string."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
