"""OAuth 2.0 client plumbing shared by the OIDC, Google and Facebook connectors: option
checks for ``configure()``, the authorization request and code exchange through Authlib's
requests client (RFC 6749 §4.1, PKCE per RFC 7636), and HTTP calls that turn an unreachable
or failing upstream into :class:`UpstreamError`.

Example::

    details = merge_options("OIDC", options, current, OPTIONS)
    client = client_session(details, callback.url, "openid")
    url, _ = client.create_authorization_url(authorize_url, state=callback.state)
"""
from __future__ import annotations

import contextlib
import hmac
import json
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from .. import urls
from ..errors import InvalidInput
from .base import Callback, UpstreamError

#: Seconds allowed to every upstream call.
TIMEOUT = 10
#: RFC 6749 §3.3 scope-token: printable ASCII without space, '"' or '\'.
SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
URL_OPTIONS = ("issuer", "authorize_url", "token_url", "userinfo_url", "jwks_uri")
MAX_OPTION = 2048
#: Upstream ``error`` values (RFC 6749 §4.1.2.1) that mean "try again later"; any other
#: (access_denied, login_required, ...) is a refusal the app hears as access_denied.
UNAVAILABLE = {"temporarily_unavailable", "server_error"}


def cli_name(option: str) -> str:
    """The CLI spelling of an option, for error lines."""
    return "--metadata-file" if option == "metadata_xml" else "--" + option.replace("_", "-")


def merge_options(provider_type: str, options: Mapping[str, Any], current: Mapping[str, Any] | None,
                  allowed: Iterable[str]) -> dict[str, Any]:
    """``current`` details overlaid with ``options``, after refusing any option that does
    not apply to ``provider_type`` and any value that is not a short printable string."""
    allowed = set(allowed)
    for name, value in options.items():
        if name not in allowed:
            raise InvalidInput(f"{cli_name(name)} does not apply to {provider_type} identity providers")
        if not isinstance(value, str) or not value.strip() or len(value) > MAX_OPTION or not value.isprintable():
            raise InvalidInput(f"{cli_name(name)} must be a non-empty printable value")
    details = {**(current or {}), **{k: v.strip() for k, v in options.items()}}
    for name in URL_OPTIONS:
        if name in details:
            details[name] = check_url(name, details[name])
    if "token_auth_method" in details and details["token_auth_method"] not in AUTH_METHODS:
        raise InvalidInput(f"--token-auth-method must be one of {', '.join(AUTH_METHODS)}")
    return details


def require(details: Mapping[str, Any], *names: str) -> None:
    missing = [cli_name(n) for n in names if not details.get(n)]
    if missing:
        raise InvalidInput(f"missing {', '.join(missing)}")


def check_url(name: str, value: str) -> str:
    """Upstream URLs are https, or http on a loopback host (a test or a sidecar); an issuer
    has no query (:func:`broker.urls.problem`)."""
    found = urls.problem(value, query=name != "issuer")
    if found:
        raise InvalidInput(f"{cli_name(name)} {found}")
    return value


def check_scopes(value: str, required: str | None = None) -> str:
    """A space-separated list of RFC 6749 scope tokens, normalised to single spaces."""
    scopes = value.split()
    if not scopes or not all(SCOPE_TOKEN.fullmatch(s) for s in scopes):
        raise InvalidInput("--scopes must be space-separated printable scope names")
    if required and required not in scopes:
        raise InvalidInput(f"--scopes must include {required}")
    return " ".join(dict.fromkeys(scopes))


def client_session(details: Mapping[str, Any], redirect_uri: str, scopes: str,
                   auth_method: str = "client_secret_basic", pkce: bool = True) -> OAuth2Session:
    """Authlib's OAuth 2.0 client for one upstream call sequence."""
    return OAuth2Session(
        details["client_id"], details["client_secret"], token_endpoint_auth_method=auth_method,
        scope=scopes, redirect_uri=redirect_uri, code_challenge_method="S256" if pkce else None,
        default_timeout=TIMEOUT,
    )


def new_secret() -> str:
    """A nonce or PKCE code_verifier (RFC 7636 §4.1: 43–128 unreserved characters)."""
    return secrets.token_urlsafe(48)


def check_answer(callback: Callback, params: Mapping[str, str]) -> str:
    """The code of an authorization response (RFC 6749 §4.1.2), after its ``state`` and
    any ``error`` (§4.1.2.1)."""
    state = params.get("state") or ""
    if not hmac.compare_digest(state.encode(), callback.state.encode()):
        raise UpstreamError("invalid_request", "state does not match the login transaction")
    error = params.get("error")
    if error:
        detail = f"upstream answered error={error[:64]!r}: {(params.get('error_description') or '')[:200]}"
        raise UpstreamError("temporarily_unavailable" if error in UNAVAILABLE else "access_denied", detail)
    code = params.get("code")
    if not code or len(code) > MAX_OPTION:
        raise UpstreamError("invalid_request", "no authorization code in the upstream answer")
    return code


@contextlib.contextmanager
def upstream_call(what: str) -> Iterator[None]:
    """Network failures and 5xx answers are the upstream's outage; other refusals mean its
    answer cannot be used."""
    try:
        yield
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise UpstreamError("temporarily_unavailable", f"{what}: {type(exc).__name__}") from None
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else 0
        error = "temporarily_unavailable" if status >= 500 or status == 429 else "invalid_request"
        body = exc.response.text[:200].strip() if exc.response is not None else ""
        raise UpstreamError(error, f"{what}: HTTP {status} {body}") from None
    except OAuthError as exc:
        raise UpstreamError("invalid_request", f"{what}: {str(exc.error)[:200]}") from None
    except (requests.RequestException, ValueError, RecursionError) as exc:  # JSON nested too deep: RecursionError
        raise UpstreamError("invalid_request", f"{what}: {type(exc).__name__}: {str(exc)[:200]}") from None


def exchange_code(client: OAuth2Session, token_url: str, code: str, **extra: str) -> dict[str, Any]:
    """The token response for ``code`` (RFC 6749 §4.1.3-4.1.4)."""
    with upstream_call("token request"):
        token = client.fetch_token(token_url, grant_type="authorization_code", code=code, allow_redirects=False,
                                   **extra)
    access = token.get("access_token")
    if not isinstance(access, str) or not access:
        raise UpstreamError("invalid_request", "token response without access_token")
    return dict(token)


def get_json(url: str, **kwargs: Any) -> dict[str, Any]:
    """GET a JSON object from the upstream (discovery, JWKS, UserInfo, Graph)."""
    with upstream_call(f"GET {urlsplit(url).path}"):
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False, **kwargs)
        response.raise_for_status()
        document = response.json()
    if not isinstance(document, dict):
        raise UpstreamError("invalid_request", f"GET {urlsplit(url).path}: not a JSON object")
    return document


def as_string(value: Any) -> str | None:
    """A claim or Graph field as the string a pool attribute holds."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def from_provider_details(provider_type: str, details: Mapping[str, str], names: Mapping[str, str],
                          read_only: Iterable[str] = ()) -> dict[str, Any]:
    """Cognito's ``ProviderDetails`` as ``configure()`` options: each key of ``names``
    (Cognito's name → the option), the keys Cognito only shows (``read_only``) skipped,
    any other refused."""
    skipped = set(read_only)
    options: dict[str, Any] = {}
    for key, value in details.items():
        if key in skipped:
            continue
        if key not in names:
            raise InvalidInput(f"ProviderDetails: {key} does not apply to {provider_type} identity providers")
        options[names[key]] = value
    return options


def to_provider_details(details: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, str]:
    """Stored details under Cognito's ``ProviderDetails`` names."""
    return {key: str(details[option]) for key, option in names.items() if details.get(option) is not None}
