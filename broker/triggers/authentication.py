"""The triggers around a sign-in: PreAuthentication before the password (or the custom
challenges) is checked, PostAuthentication once the sign-in is done, at either door.

- **PreAuthentication** (``PreAuthentication_Authentication``) runs for every name tried,
  with ``userNotFound`` true for a name the pool does not have, as Cognito runs it when the
  app client prevents user-existence errors (Cognate always does): a name's existence
  changes neither whether the handler runs nor how long the answer takes. A handler that
  raises refuses the sign-in ("PreAuthentication failed with error <message>.").
  https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-authentication.html
- **PostAuthentication** (``PostAuthentication_Authentication``) runs after the last
  challenge, before tokens are issued; a handler that fails fails the call as Cognito's does
  (the user did authenticate; no tokens are issued), and the failure is logged.
  https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-post-authentication.html

At InitiateAuth, Cognito hands the call's ``ClientMetadata`` to PreAuthentication and
UserMigration as ``validationData`` and to no trigger as ``clientMetadata``
(API_InitiateAuth, ClientMetadata); at RespondToAuthChallenge it is ``clientMetadata``.
The engine starts a sign-in inside :func:`initiating`:

    with initiating() as validation:
        pre_authentication(session, pool, "alice", user, validation)
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from sqlalchemy.orm import Session

from ..store.models import User, UserPool
from . import invoke, settings
from .attributes import user_attributes



@contextlib.contextmanager
def initiating() -> Iterator[dict[str, str]]:
    """The start of a sign-in: triggers fired inside see no ``clientMetadata``; the call's
    metadata is yielded, for the triggers that take it as ``validationData``."""
    who = invoke.caller()
    with invoke.acting(who.client_id, {}, who.sdk):
        yield dict(who.metadata)


def pre_authentication(session: Session, pool: UserPool, username: str, user: User | None,
                       validation: dict[str, str]) -> None:
    """Run PreAuthentication for a sign-in of ``username`` (``user`` None when the pool has
    no such user); :class:`~broker.errors.TriggerFailed` refuses the sign-in."""
    request = {"userAttributes": user_attributes(user), "validationData": dict(validation),
               "userNotFound": user is None}
    invoke.fire(session, pool, settings.PRE_AUTHENTICATION, "PreAuthentication_Authentication", user.username if user else username, request)


def post_authentication(session: Session, pool: UserPool, user: User, new_device: bool) -> None:
    """Run PostAuthentication for ``user``, who has just signed in (:func:`.invoke.fire_after`):
    a failure (:class:`~broker.errors.TriggerFailed`) is answered instead of tokens."""
    invoke.fire_after(session, pool, settings.POST_AUTHENTICATION, "PostAuthentication_Authentication", user.username,
                      {"userAttributes": user_attributes(user), "newDeviceUsed": new_device},
                      "the sign-in is done, no tokens are issued")
