"""Tokens signed with a prepared key (broker/oauth/signer.py) are the JWS joserfc would
make: joserfc verifies them with the public key alone, for every algorithm Cognate signs
with, and a token changed after signing is refused."""
from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError
from joserfc.jwk import ECKey, RSAKey

from broker.oauth.keys import new_jwk
from broker.oauth.signer import ALGORITHMS, Signer


@pytest.mark.parametrize("alg", sorted(ALGORITHMS))
def test_signed_tokens_verify_with_the_public_key_and_only_unchanged(alg: str) -> None:
    key = new_jwk(alg) if alg in ("RS256", "ES256") else RSAKey.generate_key(2048, parameters={"kid": "id-1"},
                                                                                private=True)
    public = (ECKey if alg == "ES256" else RSAKey).import_key(key.as_dict(private=False))
    claims = {"sub": "u-1", "cognito:groups": ["a", "b"], "name": "Zoë", "exp": 2000000000, "email_verified": True}
    token = Signer(key, alg).sign(claims)
    decoded = jwt.decode(token, public, algorithms=[alg])
    assert decoded.header == {"typ": "JWT", "alg": alg, "kid": key.kid} and decoded.claims == claims
    logout = jwt.decode(Signer(key, alg).sign({"sub": "u-1"}, typ="logout+jwt"), public, algorithms=[alg])
    assert logout.header["typ"] == "logout+jwt"
    header, payload, signature = token.split(".")
    forged = Signer(key, alg).sign({**claims, "sub": "u-2"}).split(".")[1]
    with pytest.raises(BadSignatureError):
        jwt.decode(f"{header}.{forged}.{signature}", public, algorithms=[alg])
