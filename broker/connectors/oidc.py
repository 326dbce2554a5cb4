"""Any OpenID Connect provider: the authorization code flow with PKCE and a nonce, the ID
token checked against the provider's JWKS, and the UserInfo endpoint when there is one.
https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth

Endpoints come from discovery (``<issuer>/.well-known/openid-configuration``, OpenID
Connect Discovery §4) unless the admin gives them; an explicit endpoint wins over the
discovered one. :mod:`broker.connectors.google` is this connector with Google's defaults.

Example::

    details = configure({"issuer": "https://id.example.com", "client_id": "a", "client_secret": "s"}, None)
    out = open(idp).begin(Callback(url, state, entity_id))
"""
from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .. import urls
from ..errors import InvalidInput
from ..oauth.jose import MAX_HEADER, MAX_TOKEN, compact_header
from ..store.models import IdentityProvider
from . import oauth
from .base import Callback, Identity, Outbound, UpstreamError

DEFAULT_MAPPING = {"email": "email", "email_verified": "email_verified", "name": "name"}
SECRETS = frozenset({"client_secret"})
OPTIONS = ("client_id", "client_secret", "scopes", "issuer", "authorize_url", "token_url", "userinfo_url",
           "jwks_uri", "token_auth_method")
#: Cognito's ProviderDetails names of the options; the keys it only shows. Cognate reads
#: the userinfo endpoint with GET (Cognito's ``attributes_request_method``).
PROVIDER_DETAILS = {"client_id": "client_id", "client_secret": "client_secret", "authorize_scopes": "scopes",
                    "oidc_issuer": "issuer", "authorize_url": "authorize_url", "token_url": "token_url",
                    "attributes_url": "userinfo_url", "jwks_uri": "jwks_uri", "token_auth_method": "token_auth_method"}
READ_ONLY = ("attributes_url_add_attributes", "token_request_method")
#: Seconds a discovery document or a JWKS is reused in this process.
DISCOVERY_TTL = 300
#: Seconds between two fetches of one JWKS for kids it lacked.
REFETCH_INTERVAL = 30
#: Made-up kids remembered per JWKS.
MAX_ABSENT_KIDS = 256
#: Token-mechanics claims that are not attributes of the user.
NOT_ATTRIBUTES = frozenset({"aud", "azp", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "jti"})


def configure(options: Mapping[str, Any], current: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated details of a generic OIDC provider: issuer (its ID tokens' ``iss``),
    client credentials, scopes (``openid`` at least) and optional explicit endpoints."""
    details = oauth.merge_options("OIDC", options, current, OPTIONS)
    oauth.require(details, "client_id", "client_secret", "issuer")
    details["scopes"] = oauth.check_scopes(details.get("scopes", "openid"), required="openid")
    details.setdefault("token_auth_method", "client_secret_basic")
    return details


def from_provider_details(details: Mapping[str, str]) -> dict[str, Any]:
    details = dict(details)
    if details.pop("attributes_request_method", "GET").upper() != "GET":
        raise InvalidInput("ProviderDetails: attributes_request_method: Cognate reads the userinfo endpoint with GET")
    return oauth.from_provider_details("OIDC", details, PROVIDER_DETAILS, READ_ONLY)


def provider_details(details: Mapping[str, Any]) -> dict[str, str]:
    return {**oauth.to_provider_details(details, PROVIDER_DETAILS), "attributes_request_method": "GET"}


def open(idp: IdentityProvider) -> OIDCConnector:  # noqa: A001 - the registry's name
    return OIDCConnector(idp.name, "OIDC", dict(idp.details))


#: The endpoints and the discovery document's members naming them (Discovery §3).
DISCOVERED = {"authorize_url": "authorization_endpoint", "token_url": "token_endpoint", "jwks_uri": "jwks_uri",
              "userinfo_url": "userinfo_endpoint"}


@dataclass(frozen=True)
class Endpoints:
    authorize_url: str
    token_url: str
    jwks_uri: str
    userinfo_url: str | None


class _Discovery:
    """Discovery documents by issuer, cached in process for :data:`DISCOVERY_TTL`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._docs: dict[str, tuple[float, dict[str, Any]]] = {}

    def get(self, issuer: str) -> dict[str, Any]:
        with self._lock:
            hit = self._docs.get(issuer)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        doc = oauth.get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if doc.get("issuer") != issuer:  # Discovery §4.3: the document speaks for this issuer
            raise UpstreamError("invalid_request", f"discovery document names issuer {str(doc.get('issuer'))[:200]!r}")
        with self._lock:
            self._docs[issuer] = (time.monotonic() + DISCOVERY_TTL, doc)
        return doc


DISCOVERY = _Discovery()

#: Asymmetric signatures only: never ``none``, never HS* (a shared client secret proves
#: nothing about who minted the token).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
#: Clock skew allowed on ``exp`` and ``iat``, in seconds.
SKEW = 60


@dataclass(frozen=True)
class IdTokenRules:
    """What this login expects of its ID token (Core §3.1.3.7)."""

    issuers: tuple[str, ...]
    client_id: str
    nonce: str


@dataclass
class _KeySetEntry:
    keys: KeySet
    #: When the set is fetched again (monotonic seconds).
    until: float
    #: When a ``kid`` the set lacked last made it be fetched again (None: never).
    refetched: float | None = None
    #: Kids a fetch made after they were asked for did not hold: made up, refused unfetched.
    absent: frozenset[str] = frozenset()


class _Jwks:
    """Key sets by ``jwks_uri``, cached in process for :data:`DISCOVERY_TTL`.

    A ``kid`` the cached set lacks may be the provider's new key (it rotated): the set is
    fetched again, but at most once every :data:`REFETCH_INTERVAL` seconds per URI, and
    never for a kid that a fetch made after it was first asked for did not hold (a
    provider publishes a key before it signs with it). A stream of tokens under made-up
    kids thus costs the provider one request per interval, not one each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sets: dict[str, _KeySetEntry] = {}

    def get(self, uri: str, kid: str | None) -> KeySet:
        """The set at ``uri``; it may lack ``kid`` (the caller refuses the token then)."""
        now = time.monotonic()
        with self._lock:
            hit = self._sets.get(uri)
        if hit is None or hit.until <= now:
            return self._fetch(uri, hit, None, now)
        if kid is None or _has_kid(hit.keys, kid) or kid in hit.absent:
            return hit.keys
        if hit.refetched is not None and now - hit.refetched < REFETCH_INTERVAL:
            return hit.keys
        return self._fetch(uri, hit, kid, now)

    def _fetch(self, uri: str, old: _KeySetEntry | None, kid: str | None, now: float) -> KeySet:
        document = oauth.get_json(uri)
        keys = [k for k in document.get("keys") or [] if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        try:
            key_set = KeySet.import_key_set({"keys": keys})
        except Exception as exc:  # joserfc raises KeyError, too, for an unknown curve
            raise UpstreamError("invalid_request", f"unusable JWKS at {uri}: {type(exc).__name__}: {exc}") from None
        asked = (set(old.absent) if old else set()) | ({kid} if kid else set())
        absent = frozenset(sorted(k for k in asked if not _has_kid(key_set, k))[:MAX_ABSENT_KIDS])
        entry = _KeySetEntry(key_set, now + DISCOVERY_TTL, now if kid else old.refetched if old else None, absent)
        with self._lock:
            self._sets[uri] = entry
        return key_set


JWKS = _Jwks()


def _has_kid(key_set: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in key_set.keys)


def _header(token: str) -> dict[str, Any]:
    header = compact_header(token)
    if header is None:
        raise UpstreamError("invalid_request", "ID token header is not a JSON object of at most "
                            f"{MAX_HEADER} characters")
    return header


def verify_id_token(token: Any, jwks_uri: str, rules: IdTokenRules, now: float | None = None) -> dict[str, Any]:
    """The claims of an ID token whose signature, issuer, audience, lifetime and nonce
    hold (Core §3.1.3.7); :class:`UpstreamError` otherwise."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN or token.count(".") != 2:
        raise UpstreamError("invalid_request", "token response without a compact ID token")
    claims = signed_claims(token, jwks_uri)
    check_claims(claims, rules, time.time() if now is None else now)
    return claims


def signed_claims(token: str, jwks_uri: str) -> dict[str, Any]:
    """The claims of a compact JWS signed by a key of ``jwks_uri`` with an asymmetric
    algorithm (Core §3.1.3.7 step 6); what they say is the caller's to check."""
    header = _header(token)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise UpstreamError("invalid_request", f"ID token alg {str(alg)[:20]!r} is not allowed")
    if kid is not None and not isinstance(kid, str):
        raise UpstreamError("invalid_request", "ID token kid is not a string")
    key_set = JWKS.get(jwks_uri, kid)
    if kid is not None and not _has_kid(key_set, kid):
        raise UpstreamError("invalid_request", f"ID token kid {kid[:64]!r} is not in the provider's JWKS")
    key: Any = key_set
    if kid is None:  # no kid: only a provider with a single signing key can be understood
        if len(key_set.keys) != 1:
            raise UpstreamError("invalid_request", "ID token names no kid and the JWKS holds several keys")
        key = key_set.keys[0]
    try:
        claims = jwt.decode(token, key, algorithms=[alg]).claims
    except (JoseError, ValueError, TypeError, RecursionError) as exc:  # a payload nested too deep: RecursionError
        raise UpstreamError("invalid_request", f"ID token signature: {exc}") from None
    if not isinstance(claims, dict):
        raise UpstreamError("invalid_request", "ID token payload is not a JSON object")
    return claims


def check_claims(claims: dict[str, Any], rules: IdTokenRules, now: float) -> None:
    """Core §3.1.3.7 steps 2-4, 9-11."""
    if claims.get("iss") not in rules.issuers:
        raise UpstreamError("invalid_request", f"ID token iss {str(claims.get('iss'))[:200]!r} is not the issuer")
    aud = audiences(claims)
    if rules.client_id not in aud:
        raise UpstreamError("invalid_request", "ID token aud does not contain our client_id")
    azp = claims.get("azp")
    if (len(aud) > 1 or azp is not None) and azp != rules.client_id:
        raise UpstreamError("invalid_request", "ID token azp is not our client_id")
    exp, iat = claims.get("exp"), claims.get("iat")
    if not is_number(exp) or not is_number(iat):
        raise UpstreamError("invalid_request", "ID token without numeric exp and iat")
    if exp + SKEW < now or iat - SKEW > now:
        raise UpstreamError("invalid_request", "ID token expired or issued in the future")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not hmac.compare_digest(nonce.encode(), rules.nonce.encode()):
        raise UpstreamError("invalid_request", "ID token nonce does not match the login transaction")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub or len(sub) > 255:
        raise UpstreamError("invalid_request", "ID token without a usable sub")


def audiences(claims: dict[str, Any]) -> list[str]:
    """A token's ``aud``: one string or a list of them (Core §2); anything else is none."""
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud if isinstance(a, str)] if isinstance(aud, list) else []


def is_number(value: Any) -> bool:
    """A JSON number (``exp``, ``iat``), not a boolean."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class OIDCConnector:
    """One configured OIDC upstream (also Google's, with ``provider_type`` "Google")."""

    def __init__(self, name: str, provider_type: str, details: dict[str, Any],
                 issuers: tuple[str, ...] | None = None) -> None:
        self.name, self.provider_type, self.details = name, provider_type, details
        #: Accepted ``iss`` values (Google also signs as its bare host name).
        self.issuers = issuers or (details["issuer"],)

    def endpoints(self) -> Endpoints:
        """Explicit endpoints, completed by discovery when any required one is missing."""
        d = self.details
        found: dict[str, Any] = {}
        if not all(d.get(k) for k in ("authorize_url", "token_url", "jwks_uri")):
            doc = DISCOVERY.get(d["issuer"])
            found = {name: doc.get(member) for name, member in DISCOVERED.items()}
        given = {k: d.get(k) or found.get(k) for k in DISCOVERED}
        checked = {name: endpoint(name, url, d["issuer"], self.name) for name, url in given.items()}
        if not (checked["authorize_url"] and checked["token_url"] and checked["jwks_uri"]):
            raise UpstreamError("invalid_request", f"{self.name} publishes no authorization, token or JWKS endpoint")
        return Endpoints(**checked)

    def _client(self, callback: Callback) -> Any:
        return oauth.client_session(self.details, callback.url, self.details.get("scopes", "openid"),
                                    self.details.get("token_auth_method", "client_secret_basic"))

    def begin(self, callback: Callback) -> Outbound:
        """The authentication request (Core §3.1.2.1) with PKCE S256 and a nonce."""
        nonce, verifier = oauth.new_secret(), oauth.new_secret()
        fresh = {"prompt": "login"} if callback.fresh else {}
        url, _state = self._client(callback).create_authorization_url(
            self.endpoints().authorize_url, state=callback.state, code_verifier=verifier, nonce=nonce, **fresh)
        return Outbound(url=url, kept={"nonce": nonce, "code_verifier": verifier})

    def complete(self, callback: Callback, params: Mapping[str, str], kept: dict[str, Any]) -> Identity:
        """Core §3.1.2.7 (the answer), §3.1.3 (token request, ID token validation) and
        §5.3.2 (UserInfo ``sub`` must match the ID token's)."""
        code = oauth.check_answer(callback, params)
        if params.get("iss") is not None and params["iss"] not in self.issuers:  # RFC 9207 mix-up defence
            raise UpstreamError("invalid_request", "the answer names another issuer (iss)")
        nonce, verifier = kept.get("nonce"), kept.get("code_verifier")
        if not isinstance(nonce, str) or not isinstance(verifier, str):
            raise UpstreamError("invalid_request", "login transaction has no nonce or code_verifier")
        endpoints = self.endpoints()
        with self._client(callback) as client:
            token = oauth.exchange_code(client, endpoints.token_url, code, code_verifier=verifier)
        rules = IdTokenRules(issuers=self.issuers, client_id=self.details["client_id"], nonce=nonce)
        claims = verify_id_token(token.get("id_token"), endpoints.jwks_uri, rules)
        if endpoints.userinfo_url:
            info = oauth.get_json(endpoints.userinfo_url,
                                  headers={"Authorization": f"Bearer {token['access_token']}"})
            sub = info.get("sub")
            if not isinstance(sub, str) or not hmac.compare_digest(sub.encode(), claims["sub"].encode()):
                raise UpstreamError("invalid_request", "UserInfo sub differs from the ID token's")
            claims = {**claims, **{k: v for k, v in info.items() if k not in ("iss", "aud")}}
        return self._identity(claims)

    def _identity(self, claims: dict[str, Any]) -> Identity:
        attributes = {}
        for name, value in claims.items():
            text = oauth.as_string(value)
            if text is not None and name not in NOT_ATTRIBUTES:
                attributes[name] = text
        return Identity(provider_name=self.name, provider_type=self.provider_type, subject=claims["sub"],
                        attributes=attributes, email_verified=attributes.get("email_verified") == "true")


def endpoint(name: str, url: Any, issuer: str, provider: str) -> str | None:
    """``url`` as the endpoint ``name`` of ``issuer``'s provider, if :func:`usable_url`."""
    if url is not None and not usable_url(url, issuer):
        raise UpstreamError("invalid_request", f"unusable {name} {str(url)[:200]!r} for {provider}")
    return url


def discovered_jwks_uri(issuer: str, provider: str) -> str:
    """The JWKS endpoint ``issuer``'s discovery document names, checked as every endpoint
    is (an ID token's signature is all that is checked with it)."""
    url = endpoint("jwks_uri", DISCOVERY.get(issuer).get("jwks_uri"), issuer, provider)
    if not url:
        raise UpstreamError("invalid_request", f"{provider} publishes no JWKS endpoint")
    return url


def usable_url(url: Any, issuer: str) -> bool:
    """An endpoint Cognate may call: https (or loopback http), and never a loopback or
    private address for a provider whose issuer is not itself one (a discovery document
    must not point Cognate at its own network)."""
    try:
        if not (isinstance(url, str) and oauth.check_url("issuer", url)):
            return False
    except InvalidInput:
        return False
    return urls.is_internal(issuer) or not urls.is_internal(url)
