"""Choice-based sign-in as Cognito runs it (``AuthFlow`` ``USER_AUTH``): the user names
themselves, and either asks for a first factor at once (``PREFERRED_CHALLENGE``) or is
offered the ones they can use (``SELECT_CHALLENGE`` with ``AvailableChallenges``) and
answers with one of them (``ANSWER``, with ``PASSWORD`` or ``SRP_A`` where the factor needs
it). What each factor then asks is the engine's as elsewhere: a password goes on as at
USER_PASSWORD_AUTH (MFA and all), ``PASSWORD_SRP`` to PASSWORD_VERIFIER as at USER_SRP_AUTH,
a code or a passkey as :mod:`.first_factor` has them.
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-selection-sdk.html

What is offered is the pool's (:func:`.first_factor.offered`), the same for every name; a
preferred factor the pool does not offer is not refused: the choice is offered instead, as
Cognito does. A name the pool lacks, or a factor a user cannot use, goes through the same
steps to the same failure as a wrong answer.

    step = start(env, progress, "alice", "EMAIL_OTP", {})   # EMAIL_OTP (code sent)
    step = start(env, progress, "alice", None, {})          # SELECT_CHALLENGE
    step = select(env, step.progress, user, "PASSWORD", {"PASSWORD": "..."})

The door puts the pool's relying party in ``progress`` (``RelyingParty.as_progress()``).
"""
from __future__ import annotations

from typing import Any

from ..errors import InvalidInput
from ..store.models import User
from ..userpool.passkeys import RelyingParty
from . import first_factor, password_verifier, signin
from .challenges import NOT_AVAILABLE, Challenge, Refused, Step
from .first_factor import CODE_FACTORS, PASSWORD, PASSWORD_SRP, SELECT_CHALLENGE, WEB_AUTHN
from .signin import Env

#: What ``PREFERRED_CHALLENGE`` and ``ANSWER`` may name (Cognito's first-factor challenges).
CHOICES = (WEB_AUTHN, PASSWORD, PASSWORD_SRP, *CODE_FACTORS)
#: What a sign-in keeps while the choice is offered, dropped once a factor is chosen.
OFFER_KEYS = ("step", "offered", "username", "user_id", "sub", "epoch")


class MissingAnswer(InvalidInput):
    """A chosen factor without what it needs (``PASSWORD``, ``SRP_A``): the member's name."""


def start(env: Env, progress: dict[str, Any], username: str, preferred: str | None,
          given: dict[str, str]) -> Step:
    """InitiateAuth ``USER_AUTH``: the preferred factor's challenge when the pool offers it,
    else SELECT_CHALLENGE."""
    if preferred is not None and preferred not in CHOICES:
        raise InvalidInput(f"PREFERRED_CHALLENGE must be one of {', '.join(CHOICES)}.")
    name, user = password_verifier.find(env, username)
    user = user if user is not None and user.enabled else None  # (a disabled user: as a name the pool lacks)
    offer = first_factor.offered(env.pool)
    if preferred in offer:
        return _chosen(env, progress, name, user, str(preferred), given)
    waiting = signin.proven(progress, user) if user is not None else {**progress, "user_id": None}
    return Challenge(SELECT_CHALLENGE, {**waiting, "step": SELECT_CHALLENGE, "username": name, "offered": offer})


def select(env: Env, progress: dict[str, Any], user: User | None, answer: str, given: dict[str, str]) -> Step:
    """SELECT_CHALLENGE answered: the chosen factor's challenge (or, for a password, what
    follows it). A factor not offered is :class:`Refused` (``NOT_AVAILABLE``) and the choice
    may be made again."""
    if answer not in progress.get("offered", ()):
        raise Refused(NOT_AVAILABLE, "The chosen challenge is not one of the AvailableChallenges.", progress)
    base = {k: v for k, v in progress.items() if k not in OFFER_KEYS}
    return _chosen(env, base, str(progress["username"]), user, answer, given)


def _chosen(env: Env, progress: dict[str, Any], name: str, user: User | None, factor: str,
            given: dict[str, str]) -> Step:
    if factor == PASSWORD:
        return signin.password(env, progress, name, _needed(given, "PASSWORD"))
    if factor == PASSWORD_SRP:
        return password_verifier.start(env, progress, name, _needed(given, "SRP_A"))
    if factor in CODE_FACTORS:
        return first_factor.send_code(env, progress, name, factor)
    rp = RelyingParty.from_progress(progress)
    assert rp is not None  # (the door's)
    return first_factor.passkey_challenge(env, {**progress, "username": name}, rp, user, named=True)


def _needed(given: dict[str, str], key: str) -> str:
    value = given.get(key)
    if not isinstance(value, str) or not value:
        raise MissingAnswer(key)
    return value

