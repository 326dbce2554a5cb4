"""``broker token decode [--verify] TOKEN``: what a token says, and whether an API would
take it, without a JWT library of one's own. The keys are the pool's JWKS: read from the
database when the token's issuer is a pool of this store at this BROKER_BASE_URL, else
fetched from ``<iss>/.well-known/jwks.json``. Registered on :mod:`broker.cli` when imported.
"""
from __future__ import annotations

import json
from typing import Any

import click
import requests

from .cli import _store, cli, json_option
from .errors import InvalidInput
from .oauth import keys
from .oauth.inspect_token import TokenRefused, check, decode, pool_of
from .oauth.issue import issuer
from .store import repo

#: Exit status of a token that --verify refuses (as for bad input: one line on stderr).
REFUSED = 2


@cli.group("token")
def token_group() -> None:
    """Tokens the pools issue."""


@token_group.command("decode")
@click.argument("token")
@click.option("--verify", is_flag=True,
              help="Check the signature against the issuer's JWKS, exp and iss; exit 2 when invalid.")
@json_option
def token_decode(token: str, verify: bool, as_json: bool) -> None:
    """Print the token's header and claims as JSON."""
    try:
        header, claims = decode(token)
        if verify:
            iss = claims.get("iss")
            if not isinstance(iss, str) or not iss.startswith(("http://", "https://")):
                raise TokenRefused("the token names no http(s) issuer (iss)")
            check(token, _jwks(iss), iss)
    except TokenRefused as exc:
        raise InvalidInput(f"invalid token: {exc}") from None
    click.echo(json.dumps({"header": header, "claims": claims}, indent=None if as_json else 2))


def _jwks(iss: str) -> dict[str, Any]:
    """The issuer's published keys: from the store when the pool is ours, else over HTTP."""
    with _store() as (settings, session):
        pool = repo.get_pool(session, pool_of(iss))
        if pool is not None and issuer(settings.base_url, pool.id) == iss:
            return {"keys": [k.public_jwk for k in keys.POOL_KEY_ROWS.published(session, pool.id)]}
    url = f"{iss.rstrip('/')}/.well-known/jwks.json"
    try:
        response = requests.get(url, timeout=10)
        response.raise_for_status()
        jwks = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise TokenRefused(f"cannot read the issuer's keys at {url}: {exc.__class__.__name__}") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise TokenRefused(f"{url} is not a JWKS")
    return jwks
