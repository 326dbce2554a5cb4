"""A user's sign-ins and account events as Cognito's AdminListUserAuthEvents lists them
(``AuthEventType``), read from the audit log (:mod:`.audit`), newest first.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_AuthEventType.html

Each password check and second-factor code of a sign-in is its own ``SignIn`` event, with
its ``ChallengeResponses`` (``Password`` or ``Mfa``, ``Success`` or ``Failure``) and its
``EventRisk``: the level weighed at the password (Cognate's own adaptive authentication,
:mod:`.risk`) and the decision it led to (``NoRisk``, ``AccountTakeover`` when it asked for
a second factor, ``Block``). A blocked sign-in is a ``Fail`` with ``RiskDecision`` Block.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..store import repo
from ..store.models import AuditEvent, User
from . import audit, risk

#: Audit events and the EventType Cognito gives them.
EVENT_TYPES = {
    "SignIn": "SignIn", "SignInMfa": "SignIn", "SignUp": "SignUp", "ConfirmSignUp": "SignUp",
    "ForgotPassword": "ForgotPassword", "ConfirmForgotPassword": "ForgotPassword",
    "PasswordChange": "PasswordChange", "ChangePassword": "PasswordChange", "ResendConfirmationCode": "ResendCode",
}
#: The challenge each sign-in event answered.
CHALLENGES = {"SignIn": "Password", "SignInMfa": "Mfa"}
DECISIONS = {risk.ALLOW: "NoRisk", risk.MFA: "AccountTakeover", risk.BLOCK: "Block"}


def list_events(session: Session, pool_id: str, user: User, after: int | None = None,
                limit: int | None = None) -> list[AuditEvent]:
    """``user``'s auth events, newest first: a page of at most ``limit`` after the event
    ``after`` (its id)."""
    stmt = select(AuditEvent).where(AuditEvent.pool_id == pool_id, AuditEvent.user_id == user.id,
                                    AuditEvent.event.in_(EVENT_TYPES))
    return repo.page(session, stmt, AuditEvent.id, after, limit, newest_first=True)


def describe(event: AuditEvent) -> dict[str, Any]:
    """One event in Cognito's ``AuthEventType`` shape."""
    blocked = event.outcome == audit.BLOCK
    out: dict[str, Any] = {
        "EventId": str(event.id), "EventType": EVENT_TYPES[event.event], "CreationDate": event.created_at,
        "EventResponse": audit.FAIL if blocked else event.outcome, "EventRisk": _risk(event, blocked),
        "ChallengeResponses": [],
    }
    if event.event in CHALLENGES:
        answer = "Success" if event.outcome == audit.PASS else "Failure"
        out["ChallengeResponses"] = [{"ChallengeName": CHALLENGES[event.event], "ChallengeResponse": answer}]
    if event.ip:
        out["EventContextData"] = {"IpAddress": event.ip}
    return out


def _risk(event: AuditEvent, blocked: bool) -> dict[str, Any]:
    details = event.details if isinstance(event.details, dict) else {}
    decision = "Block" if blocked else DECISIONS.get(str(details.get("action")), "NoRisk")
    out: dict[str, Any] = {"RiskDecision": decision, "CompromisedCredentialsDetected": False}
    if event.risk:
        out["RiskLevel"] = event.risk.title()
    return out
