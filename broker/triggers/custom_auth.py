"""The three triggers of CUSTOM_AUTH (DefineAuthChallenge, CreateAuthChallenge,
VerifyAuthChallengeResponse): their events, and their answers checked.
https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-challenge.html

The sign-in's history travels in every event as ``session``, a list of
``{"challengeName", "challengeResult", "challengeMetadata"}``; DefineAuthChallenge reads it
and says what comes next; CreateAuthChallenge makes a CUSTOM_CHALLENGE (its public
parameters go to the client, its private ones wait for the answer);
VerifyAuthChallengeResponse says whether an answer is right. For a name the pool does not
have the triggers run all the same, with ``userNotFound`` true (Cognate always prevents
user-existence errors), so that the answers do not tell.

    decision = define(session, pool, "alice", user, [{"challengeName": "SRP_A", "challengeResult": True,
                                                     "challengeMetadata": None}])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..store.models import User, UserPool
from . import answers, invoke
from .attributes import user_attributes
from .settings import CREATE_AUTH_CHALLENGE, DEFINE_AUTH_CHALLENGE, VERIFY_AUTH_CHALLENGE_RESPONSE

MAX_METADATA = 2048


@dataclass(frozen=True)
class Decision:
    """DefineAuthChallenge's answer: fail, issue tokens, or ask ``challenge``."""

    challenge: str | None
    issue_tokens: bool
    fail: bool


@dataclass(frozen=True)
class Created:
    """CreateAuthChallenge's answer."""

    public: dict[str, str]
    private: dict[str, str]
    metadata: str | None


def entry(name: str, result: bool, metadata: str | None = None) -> dict[str, Any]:
    """One element of the ``session`` list (Cognito's ChallengeResult)."""
    return {"challengeName": name, "challengeResult": result, "challengeMetadata": metadata}


def _request(user: User | None, **more: Any) -> dict[str, Any]:
    return {"userAttributes": user_attributes(user), **more, "userNotFound": user is None}


def define(session: Session, pool: UserPool, username: str, user: User | None,
           entries: list[dict[str, Any]]) -> Decision:
    response = invoke.fire(session, pool, DEFINE_AUTH_CHALLENGE, "DefineAuthChallenge_Authentication", _name(username, user),
                           _request(user, session=entries),
                           {"challengeName": None, "issueTokens": None, "failAuthentication": None})
    response = response or {}
    return Decision(answers.string(response.get("challengeName")) or None, answers.flag(response.get("issueTokens")),
                    answers.flag(response.get("failAuthentication")))


def create(session: Session, pool: UserPool, username: str, user: User | None, challenge: str,
           entries: list[dict[str, Any]]) -> Created:
    response = invoke.fire(session, pool, CREATE_AUTH_CHALLENGE, "CreateAuthChallenge_Authentication", _name(username, user),
                           _request(user, challengeName=challenge, session=entries),
                           {"publicChallengeParameters": None, "privateChallengeParameters": None,
                            "challengeMetadata": None}) or {}
    return Created(answers.string_map(response.get("publicChallengeParameters")),
                   answers.string_map(response.get("privateChallengeParameters")),
                   answers.string(response.get("challengeMetadata"), MAX_METADATA) or None)


def verify(session: Session, pool: UserPool, username: str, user: User | None, private: dict[str, str],
           answer: str) -> bool:
    response = invoke.fire(session, pool, VERIFY_AUTH_CHALLENGE_RESPONSE, "VerifyAuthChallengeResponse_Authentication",
                           _name(username, user),
                           _request(user, privateChallengeParameters=private, challengeAnswer=answer),
                           {"answerCorrect": None}) or {}
    return answers.flag(response.get("answerCorrect"))


def _name(username: str, user: User | None) -> str:
    return user.username if user is not None else username

