"""What a sign-in asks next, in Cognito's vocabulary (``ChallengeName`` of InitiateAuth and
RespondToAuthChallenge), and how it ends.

The engine answers each input with a :class:`Challenge` or a :class:`SignedIn`; a door (the
hosted UI, the JSON API) renders the first as a page or as JSON and the second as an
authorization code or as tokens.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BrokerError
from ..store.models import User
from ..userpool import mfa

NEW_PASSWORD_REQUIRED = "NEW_PASSWORD_REQUIRED"
SOFTWARE_TOKEN_MFA = "SOFTWARE_TOKEN_MFA"
EMAIL_OTP = "EMAIL_OTP"
SMS_MFA = "SMS_MFA"
MFA_SETUP = "MFA_SETUP"
SELECT_MFA_TYPE = "SELECT_MFA_TYPE"
PASSWORD_VERIFIER = "PASSWORD_VERIFIER"
CUSTOM_CHALLENGE = "CUSTOM_CHALLENGE"
DEVICE_SRP_AUTH = "DEVICE_SRP_AUTH"
DEVICE_PASSWORD_VERIFIER = "DEVICE_PASSWORD_VERIFIER"

#: The challenge that asks for each second factor, and back.
FACTOR_CHALLENGES = {mfa.TOTP: SOFTWARE_TOKEN_MFA, mfa.EMAIL_OTP: EMAIL_OTP, mfa.SMS_OTP: SMS_MFA}
CHALLENGE_FACTORS = {v: k for k, v in FACTOR_CHALLENGES.items()}


@dataclass(frozen=True)
class Challenge:
    """The next step: its name, what the door shows with it (Cognito's
    ``ChallengeParameters``), and the sign-in's state, kept by the door until the answer."""

    name: str
    progress: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SignedIn:
    """The sign-in is done: the door issues tokens or a code for ``user``."""

    user: User
    progress: dict[str, Any]
    amr: tuple[str, ...]
    auth_time: int


Step = Challenge | SignedIn


class Refused(BrokerError):
    """A sign-in the engine ends: ``reason`` names it for the door (Cognito's error types)."""

    def __init__(self, reason: str, message: str, progress: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        #: The sign-in's state to keep when it goes on (a code to try again, a sign-up to confirm).
        self.progress = progress


#: :attr:`Refused.reason` values.
NOT_CONFIRMED = "not_confirmed"  # UserNotConfirmedException
RESET_REQUIRED = "reset_required"  # PasswordResetRequiredException
BLOCKED = "blocked"  # NotAuthorizedException
CODE_MISMATCH = "code_mismatch"  # CodeMismatchException; the challenge may be answered again
NOT_OFFERED = "not_offered"  # InvalidParameterException: a choice not offered; may be answered again
NOT_AVAILABLE = "not_available"  # InvalidParameterException: a first factor not offered; may be chosen again
ENDED = "ended"  # NotAuthorizedException: too many wrong answers, the sign-in is over
