"""The resources one running broker holds, attached to the Flask app by ``create_app``."""
from __future__ import annotations

import time
from dataclasses import dataclass

from flask import current_app

from .config import Settings
from .oauth.keys import KeyCache
from .sealing import Sealer
from .store.cache import ConfigCache
from .store.db import Database
from .store.state import StateStore
from .userpool.senders import Sender, SmsSender


@dataclass
class Runtime:
    settings: Settings
    db: Database
    state: StateStore
    sender: Sender
    keys: KeyCache
    config: ConfigCache
    sms: SmsSender
    sealer: Sealer
    #: The keys of identities' OpenID tokens (:mod:`broker.identity.keys`).
    identity_keys: KeyCache


#: Pools whose configuration and signing keys :func:`warm` reads (the oldest).
WARM_POOLS = 20


def warm(rt: Runtime, concurrency: int = 1) -> None:
    """What the first requests of a new worker would otherwise wait for: connections of the
    database engines (as many as the refresh tokens' read keeps, each having read once) and
    of the state store, the configuration's version, the signing keys of the first
    :data:`WARM_POOLS` pools, and last, where those pools have Python triggers, up to
    ``concurrency`` trigger worker processes (no more than a server process keeps) with
    their handlers imported: a cold start takes a tenth of a second of CPU each."""
    from sqlalchemy import select

    from .store.models import UserPool
    from .triggers import invoke
    from .triggers.settings import targets
    from .triggers.workers import INIT_TIMEOUT

    handlers: set[str] = set()
    with rt.db.sessions() as session:
        for pool_id in session.scalars(select(UserPool.id).order_by(UserPool.created_at).limit(WARM_POOLS)).all():
            pool = rt.config.pool(session, pool_id)
            if pool is not None:
                rt.keys.get(session, pool)
                handlers.update(t.removeprefix("python:") for t in targets(pool).values() if t.startswith("python:"))
        python = invoke.of(session).python
    rt.db.refresh_read.warm()
    rt.state.ping()
    if handlers:  # (outside the session: no connection is held while the workers start)
        python.warm(sorted(handlers), concurrency, time.time() + INIT_TIMEOUT)


def runtime() -> Runtime:
    return current_app.extensions["broker"]
