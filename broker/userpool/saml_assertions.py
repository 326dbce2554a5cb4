"""SAML assertions are bearer tokens used once (SAML Profiles §4.1.4.5): an assertion
accepted at a user pool's ACS, or as an identity pool's login, is remembered until it
expires, with who took it, and refused at any other door.

An identity pool takes the same assertion more than once: GetId and then
GetCredentialsForIdentity carry the same ``SAMLResponse``, as they carry the same ID token.
So the first use records its holder (``identity-pool:<id>``; the ACS is no holder), and a
later use is accepted for the same identity pool only: an assertion consumed at the ACS
cannot be replayed as an identity pool's login, nor one of an identity pool at the ACS or
at another identity pool.

    if not accept(state, pool_id, idp.name, identity, holder=f"identity-pool:{identity_pool.id}"):
        ...  # refused: used elsewhere
"""
from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING

from ..store.state import Keys, StateStore

if TYPE_CHECKING:  # lxml and xmlsec load on first SAML use
    from ..connectors.saml import SamlIdentity


def accept(state: StateStore, pool_id: str, idp_name: str, identity: SamlIdentity, holder: str = "") -> bool:
    """Whether ``holder`` may use the assertion ``identity`` came from; the first use
    records it for ``holder`` until the assertion expires."""
    if not identity.assertion_id:
        return False
    key = Keys.saml_assertion(pool_id, hashlib.sha256(f"{idp_name}\n{identity.assertion_id}".encode()).hexdigest())
    ttl = max(1, int(identity.expires_at - time.time()))
    if state.add(key, {"holder": holder}, ttl):
        return True
    found = state.get(key) if holder else None
    return found is not None and found.get("holder") == holder
