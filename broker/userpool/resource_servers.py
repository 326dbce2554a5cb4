"""A pool's resource servers and their custom scopes (Cognito's CreateResourceServer,
DescribeResourceServer, UpdateResourceServer, DeleteResourceServer, ListResourceServers):
an app client asks for ``<identifier>/<scope>``, as in the client-credentials grant.
https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-pools-define-resource-servers.html

Scope names are stored without their identifier. A scope that an update or a deletion
takes away is also taken out of every app client that was allowed it, so no client keeps
a scope nobody defines (Cognito refuses such scopes when a client is saved).

    server = create_resource_server(session, pool_id, "https://api.example", "api", ["read"])
"""
from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..store import repo
from ..store.models import ResourceServer
from . import audit
from .admin import require_pool

IDENTIFIER = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}")
SCOPE = re.compile(r"[\x21\x23-\x2e\x30-\x5b\x5d-\x7e]{1,256}")
MAX_SCOPES = 100


def create_resource_server(session: Session, pool_id: str, identifier: str, name: str,
                           scopes: list[str]) -> ResourceServer:
    pool = require_pool(session, pool_id)
    if not IDENTIFIER.fullmatch(identifier):
        raise InvalidInput(f"invalid resource server identifier {identifier!r}")
    if find(session, pool.id, identifier) is not None:
        raise InvalidInput(f"resource server {identifier!r} already exists")
    server = ResourceServer(pool_id=pool.id, identifier=identifier, name=_name(name, identifier),
                            scopes=_scopes(scopes))
    session.add(server)
    session.flush()
    audit.record(session, pool.id, "CreateResourceServer", audit.PASS, identifier=server.identifier,
                 name=server.name, scopes=server.scopes)
    return server


def update_resource_server(session: Session, pool_id: str, identifier: str, name: str,
                           scopes: list[str]) -> ResourceServer:
    """UpdateResourceServer: the name and the whole list of scopes are replaced."""
    server = require_resource_server(session, pool_id, identifier)
    new_name, new_scopes = _name(name, identifier), _scopes(scopes)
    removed = {f"{identifier}/{s}" for s in server.scopes} - {f"{identifier}/{s}" for s in new_scopes}
    server.name, server.scopes = new_name, new_scopes
    _withdraw(session, pool_id, removed)
    session.flush()
    audit.record(session, pool_id, "UpdateResourceServer", audit.PASS, identifier=identifier, name=new_name,
                 scopes=new_scopes, withdrawn=sorted(removed))
    return server


def delete_resource_server(session: Session, pool_id: str, identifier: str) -> None:
    server = require_resource_server(session, pool_id, identifier)
    _withdraw(session, pool_id, {f"{identifier}/{s}" for s in server.scopes})
    session.delete(server)
    session.flush()
    audit.record(session, pool_id, "DeleteResourceServer", audit.PASS, identifier=identifier)


def find(session: Session, pool_id: str, identifier: str) -> ResourceServer | None:
    stmt = select(ResourceServer).where(ResourceServer.pool_id == pool_id, ResourceServer.identifier == identifier)
    return session.scalars(stmt).first()


def require_resource_server(session: Session, pool_id: str, identifier: str) -> ResourceServer:
    require_pool(session, pool_id)
    server = find(session, pool_id, identifier)
    if server is None:
        raise InvalidInput(f"no resource server {identifier!r} in pool {pool_id}")
    return server


def listed(session: Session, pool_id: str) -> list[ResourceServer]:
    require_pool(session, pool_id)
    stmt = select(ResourceServer).where(ResourceServer.pool_id == pool_id).order_by(ResourceServer.identifier)
    return list(session.scalars(stmt))


def describe(server: ResourceServer) -> dict[str, Any]:
    """Cognito's ResourceServerType. Cognate keeps no scope descriptions: each scope is
    described by its name."""
    return {"UserPoolId": server.pool_id, "Identifier": server.identifier, "Name": server.name,
            "Scopes": [{"ScopeName": s, "ScopeDescription": s} for s in server.scopes]}


def _name(name: str, identifier: str) -> str:
    name = (name or identifier).strip()
    if not 1 <= len(name) <= 256:
        raise InvalidInput("a resource server name has 1 to 256 characters")
    return name


def _scopes(scopes: list[str]) -> list[str]:
    unique = list(dict.fromkeys(scopes))
    if len(unique) > MAX_SCOPES:
        raise InvalidInput(f"a resource server has at most {MAX_SCOPES} scopes")
    for scope in unique:
        if not SCOPE.fullmatch(scope):
            raise InvalidInput(f"invalid scope name {scope!r}")
    return unique


def _withdraw(session: Session, pool_id: str, scopes: set[str]) -> None:
    """Take ``scopes`` out of every app client of the pool that was allowed them."""
    if not scopes:
        return
    for client in repo.list_clients(session, pool_id):
        if scopes & set(client.allowed_scopes):
            client.allowed_scopes = [s for s in client.allowed_scopes if s not in scopes]
