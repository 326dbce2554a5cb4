"""The authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1, RFC 7636), checked by
small named steps. Until client and redirect_uri are known good, errors are shown on our
own error page; after that they go back to the app's redirect_uri (§4.1.2.1), in the
fragment for the implicit grant (``response_type=token``, §4.2.2.1).
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit, parse_qsl

from sqlalchemy.orm import Session

from ..errors import HostedError
from ..i18n import gettext as _, supported
from ..runtime import runtime
from ..store.models import AppClient, UserPool
from ..userpool.app_clients import pkce_required
from . import scopes

PARAMS = (
    "response_type", "client_id", "redirect_uri", "state", "scope", "nonce", "code_challenge",
    "code_challenge_method", "identity_provider", "idp_identifier", "lang", "prompt", "max_age",
)
CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
MAX_PARAM = 2048
PROMPTS = {"login", "none", "consent", "select_account"}


#: ``response_type`` values and the client flow (AllowedOAuthFlows) each needs. Cognito's
#: implicit grant answers ``token`` only (with an ID token for the ``openid`` scope).
RESPONSE_TYPES = {"code": "code", "token": "implicit"}


class RedirectError(Exception):
    """An OAuth error for the app, sent to its (verified) redirect_uri: in the query, or in
    the fragment where the tokens would have gone (``fragment``, RFC 6749 §4.2.2.1)."""

    def __init__(self, error: str, description: str, redirect_uri: str, state: str | None,
                 fragment: bool = False) -> None:
        super().__init__(description)
        self.error, self.description, self.redirect_uri, self.state = error, description, redirect_uri, state
        self.fragment = fragment

    @property
    def location(self) -> str:
        params = {"error": self.error, "error_description": self.description}
        if self.state:
            params["state"] = self.state
        return add_fragment(self.redirect_uri, params) if self.fragment else add_params(self.redirect_uri, params)


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None = None
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    prompt: str | None = None
    max_age: int | None = None
    identity_provider: str | None = None
    idp_identifier: str | None = None
    lang: str | None = None
    #: ``code``, or ``token`` (the implicit grant: tokens in the fragment, no refresh token).
    response_type: str = "code"

    def as_dict(self) -> dict[str, Any]:
        """The request as stored in its login transaction: fields left unset are left out."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthorizationRequest:
        return cls(**{**data, "scopes": tuple(data["scopes"])})

    def query(self) -> dict[str, str]:
        """The request as /oauth2/authorize parameters (for links between hosted pages)."""
        out = {"response_type": self.response_type, "client_id": self.client_id, "redirect_uri": self.redirect_uri,
               "scope": " ".join(self.scopes)}
        for name in ("state", "nonce", "code_challenge", "code_challenge_method", "lang"):
            if getattr(self, name):
                out[name] = getattr(self, name)
        return out

    def fail(self, error: str, description: str) -> RedirectError:
        return RedirectError(error, description, self.redirect_uri, self.state, self.response_type == "token")


def add_params(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def add_fragment(uri: str, params: Mapping[str, str]) -> str:
    """``uri`` with ``params`` as its fragment (callback URLs have none of their own)."""
    return urlunsplit(urlsplit(uri)._replace(fragment=urlencode(list(params.items()))))


def parse(session: Session, pool: UserPool, args: Any) -> tuple[AuthorizationRequest, AppClient]:
    """Validate ``args`` (a MultiDict) into a request; raises HostedError or RedirectError."""
    client = check_client(session, pool, args)
    redirect_uri = check_redirect_uri(client, args)
    state = args.get("state")
    if state is not None and (len(state) > MAX_PARAM or len(args.getlist("state")) > 1):
        raise HostedError(_("The state parameter is invalid."))
    response_type = "token" if args.get("response_type") == "token" else "code"
    draft = AuthorizationRequest(client_id=client.id, redirect_uri=redirect_uri, scopes=(), state=state,
                                 response_type=response_type)
    check_single_values(draft, args)
    check_response_type(draft, client, args)
    fields = {
        "scopes": check_scope(draft, client, args),
        **check_pkce(draft, client, args),
        "nonce": args.get("nonce") or None,
        "prompt": check_prompt(draft, args),
        "max_age": check_max_age(draft, args),
        "identity_provider": args.get("identity_provider") or None,
        "idp_identifier": args.get("idp_identifier") or None,
        "lang": supported(args.get("lang")),  # an unsupported one is ignored: nothing to keep
    }
    return AuthorizationRequest(client_id=client.id, redirect_uri=redirect_uri, state=state,
                                response_type=response_type, **fields), client


def check_client(session: Session, pool: UserPool, args: Any) -> AppClient:
    client_id = args.get("client_id", "")
    if not client_id or len(args.getlist("client_id")) > 1:
        raise HostedError(_("The request is missing a valid client_id."))
    client = runtime().config.client(session, pool.id, client_id) if len(client_id) <= 128 else None
    if client is None:
        raise HostedError(_("This application is not known to this user pool."))
    return client


def check_redirect_uri(client: AppClient, args: Any) -> str:
    redirect_uri = args.get("redirect_uri", "")
    if len(args.getlist("redirect_uri")) != 1 or redirect_uri not in client.callback_urls:
        raise HostedError(_("The redirect_uri is not registered for this application."))
    return redirect_uri


def check_single_values(req: AuthorizationRequest, args: Any) -> None:
    """One value per parameter, of at most ``MAX_PARAM`` characters (``scope`` has its own
    bounds, :mod:`broker.oauth.scopes`)."""
    for name in PARAMS:
        values = args.getlist(name)
        if len(values) > 1:
            raise req.fail("invalid_request", f"Multiple values for {name}.")
        if values and len(values[0]) > MAX_PARAM and name != "scope":
            raise req.fail("invalid_request", f"{name} is too long.")


def check_response_type(req: AuthorizationRequest, client: AppClient, args: Any) -> None:
    """``code``, or ``token`` for a client whose flows include ``implicit`` (off unless the
    operator allows it: OAuth 2.1 and RFC 9700 §2.1.2 drop the implicit grant, whose tokens
    travel in the address bar and are bound to no sender)."""
    flow = RESPONSE_TYPES.get(args.get("response_type"))
    if flow is None:
        raise req.fail("unsupported_response_type", "response_type must be code (or token where the client "
                                                     "allows the implicit grant).")
    if flow not in client.allowed_flows:
        raise req.fail("unauthorized_client", f"The client may not use the {flow} flow.")


def check_scope(req: AuthorizationRequest, client: AppClient, args: Any) -> tuple[str, ...]:
    try:
        requested = scopes.requested(args.get("scope"))
    except scopes.ScopeError as exc:
        raise req.fail("invalid_scope", str(exc)) from None
    if not requested:
        return tuple(client.allowed_scopes)
    unknown = [s for s in requested if s not in client.allowed_scopes]
    if unknown:
        raise req.fail("invalid_scope", f"Scope not allowed for this client: {unknown[0][:256]}")
    return requested


def check_pkce(req: AuthorizationRequest, client: AppClient, args: Any) -> dict[str, str | None]:
    challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
    if req.response_type == "token":  # no code to bind: a challenge would protect nothing
        if challenge is not None or method is not None:
            raise req.fail("invalid_request", "code_challenge belongs to the code flow, not to response_type=token.")
        return {"code_challenge": None, "code_challenge_method": None}
    if method is not None and method != "S256":
        raise req.fail("invalid_request", "code_challenge_method must be S256.")
    if challenge is None:
        if pkce_required(client):
            raise req.fail("invalid_request", "PKCE (code_challenge with S256) is required for public clients.")
        if method is not None:
            raise req.fail("invalid_request", "code_challenge is missing.")
        return {"code_challenge": None, "code_challenge_method": None}
    if method is None:
        raise req.fail("invalid_request", "code_challenge_method=S256 is required (plain is not allowed).")
    if not CHALLENGE.fullmatch(challenge):
        raise req.fail("invalid_request", "code_challenge is malformed.")
    return {"code_challenge": challenge, "code_challenge_method": "S256"}


def check_prompt(req: AuthorizationRequest, args: Any) -> str | None:
    prompt = args.get("prompt") or None
    if prompt is None:
        return None
    values = set(prompt.split())
    if not values <= PROMPTS or ("none" in values and len(values) > 1):
        raise req.fail("invalid_request", "Unsupported prompt value.")
    return "none" if "none" in values else ("login" if "login" in values else None)


def check_max_age(req: AuthorizationRequest, args: Any) -> int | None:
    value = args.get("max_age")
    if value is None or value == "":
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 10:  # "²".isdigit() but int("²") fails
        raise req.fail("invalid_request", "max_age must be a non-negative integer.")
    return int(value)
