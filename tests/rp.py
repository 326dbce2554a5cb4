"""A small relying party, written against the public contract only: it reads discovery,
drives the hosted form like a browser without JavaScript, and verifies tokens with PyJWT
and the published JWKS (an implementation independent of Cognate's)."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import jwt
import requests

CALLBACK = "http://localhost:9000/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def form_fields(html: str) -> dict[str, str]:
    """The hidden inputs of the first form on the page (csrf_token, txn, ...)."""
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = value.group(1) if value else ""
    return fields


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


@dataclass
class RelyingParty:
    base_url: str
    pool_id: str
    client_id: str
    client_secret: str | None = None
    redirect_uri: str = CALLBACK

    def __post_init__(self) -> None:
        self.browser = requests.Session()
        self.issuer = f"{self.base_url}/{self.pool_id}"
        self.config = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10).json()

    def authorize_params(self, **extra: str) -> dict[str, str]:
        params = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                  "scope": "openid email profile", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8)}
        params.update(extra)
        return params

    def authorize(self, **extra: str) -> requests.Response:
        return self.browser.get(self.config["authorization_endpoint"], params=self.authorize_params(**extra),
                                allow_redirects=False, timeout=10)

    def follow(self, response: requests.Response) -> requests.Response:
        return self.browser.get(urljoin(response.url, response.headers["Location"]), allow_redirects=False, timeout=10)

    def sign_in(self, username: str, password: str, **extra: str) -> tuple[dict[str, str], str | None]:
        """authorize → login form → post; returns (authorize params, code or None)."""
        params = self.authorize_params(**extra)
        r = self.browser.get(self.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text
        page = self.follow(r)
        assert page.status_code == 200, page.text
        r = self.post_form(page, {"username": username, "password": password})
        if r.status_code != 302 or not r.headers["Location"].startswith(self.redirect_uri):
            return params, None
        answer = query_of(r.headers["Location"])
        assert answer.get("state") == params["state"]
        return params, answer.get("code")

    def post_form(self, page: requests.Response, data: dict[str, str], action: str | None = None) -> requests.Response:
        html = page.text
        if action is None:
            match = re.search(r'<form[^>]*action="([^"]+)"', html)
            assert match, html
            action = match.group(1).replace("&amp;", "&")
        return self.browser.post(urljoin(page.url, action), data={**form_fields(html), **data},
                                 allow_redirects=False, timeout=10)

    def client_auth(self) -> tuple[dict[str, str], Any]:
        if self.client_secret:
            return {}, (self.client_id, self.client_secret)
        return {"client_id": self.client_id}, None

    def token(self, **data: str) -> requests.Response:
        extra, auth = self.client_auth()
        return requests.post(self.config["token_endpoint"], data={**extra, **data}, auth=auth, timeout=10)

    def exchange(self, code: str, verifier: str | None = None) -> requests.Response:
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri}
        if verifier:
            data["code_verifier"] = verifier
        return self.token(**data)

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token)

    def revoke(self, token: str) -> requests.Response:
        extra, auth = self.client_auth()
        return requests.post(self.config["revocation_endpoint"], data={**extra, "token": token}, auth=auth, timeout=10)

    def userinfo(self, access_token: str) -> requests.Response:
        return requests.get(self.config["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"},
                            timeout=10)

    def verify(self, token: str, audience: str | None = None) -> dict[str, Any]:
        """PyJWT with the JWKS fetched from jwks_uri: signature, iss, exp (and aud when given)."""
        jwks = jwt.PyJWKClient(self.config["jwks_uri"], cache_keys=False)
        key = jwks.get_signing_key_from_jwt(token)
        options = {"require": ["exp", "iat", "iss", "sub"], "verify_aud": audience is not None}
        return jwt.decode(token, key.key, algorithms=["RS256", "ES256"], issuer=self.issuer,
                          audience=audience, options=options)
