"""What a trigger invocation came to, whichever kind of target ran it (:mod:`.workers`,
:mod:`.webhooks`); :func:`broker.triggers.invoke.fire` turns it into Cognito's answer or
error.

    Outcome(RETURNED, {"response": {...}})   # the event the target returned
    Outcome(RAISED, "Sign-ups are closed")    # the handler's error's message
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: What an invocation came to (``Outcome.kind``).
RETURNED, RAISED, TIMED_OUT, CRASHED, INVALID = "returned", "raised", "timed_out", "crashed", "invalid"


@dataclass(frozen=True)
class Outcome:
    """``value`` is the returned event (RETURNED), else the error's message."""

    kind: str
    value: Any
