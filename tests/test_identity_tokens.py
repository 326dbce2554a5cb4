"""OpenID tokens of identities, in process (:mod:`broker.identity.tokens`): a token of
Cognate's is a login only with an ``amr`` list naming "authenticated" (not a text holding
the word); principal tags, the developer's and those carried from a token, keep STS's
limits (50 tags, keys of 128 characters, values of 256)."""
from __future__ import annotations

import time

from broker.identity.providers import COGNITO_IDENTITY, Login
from broker.identity.tokens import TAGS_CLAIM, check_claims, issuer, token_claims
from broker.store.models import IdentityPool
from tests.aws_identity import refusal

BASE = "https://auth.example.com"
POOL = IdentityPool(id="local:6f1c2b3a-0000-4000-8000-000000000000", name="tokens", principal_tags={})


def identity_claims(amr: object) -> dict:
    now = int(time.time())
    return {"iss": issuer(BASE), "aud": POOL.id, "sub": "local:x", "amr": amr, "iat": now, "exp": now + 60}


def test_amr_must_be_a_list_naming_authenticated() -> None:
    check_claims(BASE, POOL, identity_claims(["authenticated", "login.example.com"]))
    for amr in ("authenticated", "unauthenticated", {"authenticated": 1}, ["unauthenticated"], None):
        assert refusal(lambda amr=amr: check_claims(BASE, POOL, identity_claims(amr)))[0] == "NotAuthorizedException"


def test_the_developers_principal_tags_keep_stss_limits() -> None:
    def claims(tags: dict) -> dict:
        return token_claims(issuer(BASE), POOL, "local:x", [], 0, 60, tags)

    assert claims({"team": "blue"})[TAGS_CLAIM] == {"principal_tags": {"team": ["blue"]}}
    for tags in ({f"t{n}": "v" for n in range(51)}, {"k" * 129: "v"}, {"team": "v" * 257}, {"team": ""}):
        assert refusal(lambda tags=tags: claims(tags))[0] == "InvalidParameterException"


def test_tags_carried_from_a_token_keep_stss_limits() -> None:
    carried = {f"t{n}": ["v"] for n in range(60)} | {"k" * 129: ["v"], "long": ["v" * 257], "odd": [{"x": 1}]}
    login = Login(COGNITO_IDENTITY, "local:x", {TAGS_CLAIM: {"principal_tags": carried}}, COGNITO_IDENTITY)
    tags = token_claims(issuer(BASE), POOL, "local:x", [login], 0, 60)[TAGS_CLAIM]["principal_tags"]
    assert len(tags) == 50 and all(len(k) <= 128 and len(v[0]) <= 256 for k, v in tags.items())
    odd = Login(COGNITO_IDENTITY, "local:x", {TAGS_CLAIM: ["not", "a", "map"]}, COGNITO_IDENTITY)
    assert TAGS_CLAIM not in token_claims(issuer(BASE), POOL, "local:x", [odd], 0, 60)
