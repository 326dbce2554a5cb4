"""The resources one running broker holds, attached to the Flask app by ``create_app``."""
from __future__ import annotations

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


def runtime() -> Runtime:
    return current_app.extensions["broker"]
