"""GetCredentialsForIdentity: Cognito's enhanced flow, where the identity pool, not the app,
turns an identity into AWS credentials; and GetOpenIdToken, the basic flow's token, which
the app takes to the STS itself
(https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flow.html).

The enhanced flow:

1. the call counted (:mod:`.limits`), the ``Logins`` verified (:mod:`.logins`);
2. the identity resolved: a login seen for the first time is linked to it, a login of
   another identity merges the two, and the surviving identity's id is answered (it may
   differ from the one asked: Amplify stores the answered one);
3. the role chosen (:mod:`.roles`);
4. an OpenID token for the identity (:mod:`.tokens`), given to the STS with that role in
   ``AssumeRoleWithWebIdentity`` (:mod:`.sts`), for one hour as Cognito's.

    out = for_identity(session, runtime, "local:1b2c...", {"localhost:8000/local_X": id_token}, None, "192.0.2.7")
    # {"IdentityId": ..., "Credentials": {"AccessKeyId": ..., "SecretKey": ..., ...}}
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..runtime import Runtime
from . import identities, limits, logins, roles, sts, tokens
from .errors import CLASSIC_FLOW_MAPPINGS, CLASSIC_FLOW_OFF, Refused, invalid_parameter

#: "AWS credentials from enhanced authentication are valid for one hour."
DURATION = 3600


def for_identity(session: Session, runtime: Runtime, identity_id: str, given: dict[str, str] | None,
                 custom_role_arn: str | None, address: str) -> dict[str, Any]:
    """GetCredentialsForIdentity's answer, or :class:`Refused`: with nothing written when
    the logins, the identity or the role are refused.

    What the identity became is committed before the STS is asked: no transaction (and no
    SQLite write lock) is held across that round trip, and the links made stand whatever
    the STS answers (a refusal there included), as they would have after GetId."""
    identity, pool = identities.with_pool(session, identity_id)
    limits.admit(runtime.state, runtime.settings, pool.id, address)
    verified = logins.verify(session, runtime, pool, given)
    identity = identities.resolve(session, pool, identity.id, verified)
    try:
        role = roles.choose(pool, verified, custom_role_arn)
    except Refused:
        session.rollback()  # a pool without the role it needs links nobody
        raise
    token = tokens.open_id_token(session, runtime, pool, identity, verified)
    answered = identity.id
    session.commit()
    return {"IdentityId": answered, "Credentials": sts.assume_role(runtime.settings, role, token, DURATION)}


def basic_flow_token(session: Session, runtime: Runtime, identity_id: str, given: dict[str, str] | None,
                     address: str) -> dict[str, Any]:
    """GetOpenIdToken's answer: only where the pool allows the basic flow and maps no roles
    (the app then chooses any role that trusts the pool), as Cognito."""
    identity, pool = identities.with_pool(session, identity_id)
    limits.admit(runtime.state, runtime.settings, pool.id, address)
    if not pool.allow_classic_flow:
        raise invalid_parameter(CLASSIC_FLOW_OFF)
    if pool.role_mappings:
        raise invalid_parameter(CLASSIC_FLOW_MAPPINGS)
    verified = logins.verify(session, runtime, pool, given)
    identity = identities.resolve(session, pool, identity.id, verified)
    return {"IdentityId": identity.id, "Token": tokens.open_id_token(session, runtime, pool, identity, verified)}
