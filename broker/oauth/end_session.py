"""The logout request at ``/logout``, in its two forms, checked before anyone is signed out.

- **Cognito's** (https://docs.aws.amazon.com/cognito/latest/developerguide/logout-endpoint.html):
  ``client_id`` with ``logout_uri`` (a registered sign-out URL), or with ``redirect_uri`` +
  ``response_type`` to sign in again, or alone. It signs out at once, as Cognito does.
- **OpenID Connect RP-Initiated Logout 1.0**
  (https://openid.net/specs/openid-connect-rpinitiated-1_0.html): ``id_token_hint``,
  ``client_id`` (optional with a hint, and then the hint's ``aud``), ``post_logout_redirect_uri``
  (a registered sign-out URL, exactly), ``state`` (handed back), ``ui_locales``. The hint
  must be an ID token this pool signed, expired or not (§2: "the OP need not be able to
  verify that the token is unexpired"); its ``aud`` names the app. Without a hint naming
  the user signed in here, the user is asked first (§2, §6: "the OP SHOULD ask the End-User
  whether to log out"), so that a forged link or a cross-site request cannot sign anyone
  out unawares and send them on.

A redirect goes only to one of the client's registered sign-out URLs (Cognito's
LogoutURLs); anything else is an error page, never a redirect.

    req = parse(session, keys, pool, issuer, request.args)
    if req.must_ask(signed_in_sub): ...  # the confirmation page
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from ..errors import HostedError
from ..i18n import gettext as _
from ..store.models import AppClient, UserPool
from . import authorize
from .keys import KeyCache
from .verify import InvalidToken, signed_claims

#: Parameters that must come at most once (a second value would be a second meaning).
PARAMS = ("client_id", "logout_uri", "post_logout_redirect_uri", "id_token_hint", "state", "redirect_uri",
          "response_type", "ui_locales")


@dataclass(frozen=True)
class LogoutRequest:
    client: AppClient | None
    #: Where to go once signed out (a registered sign-out URL, with ``state``), if anywhere.
    target: str | None
    #: Cognito's form: signs out without asking.
    cognito: bool
    #: The ``sub`` of a valid ``id_token_hint``.
    hint_sub: str | None = None
    #: Cognito's ``redirect_uri`` + ``response_type``: sign in again afterwards.
    sign_in_again: bool = False

    def must_ask(self, signed_in_sub: str | None) -> bool:
        """Whether the user is asked before being signed out: only for the OIDC form, when
        someone is signed in here whom no valid hint names."""
        return not self.cognito and signed_in_sub is not None and self.hint_sub != signed_in_sub


def parse(session: Session, keys: KeyCache, pool: UserPool, issuer: str, args: Any) -> LogoutRequest:
    """Check ``args`` (a MultiDict); raises :class:`HostedError` (an error page) on anything
    wrong, before anything is changed."""
    if any(len(args.getlist(name)) > 1 for name in PARAMS):
        raise HostedError(_("The request is invalid."))
    cognito = "logout_uri" in args or "redirect_uri" in args or (
        "client_id" in args and "id_token_hint" not in args and "post_logout_redirect_uri" not in args)
    client = authorize.check_client(session, pool, args) if "client_id" in args or cognito else None
    hint = _hint(session, keys, pool, issuer, args, client)
    if hint is not None and client is None:
        client = authorize.check_client(session, pool, MultiDict({"client_id": hint["aud"]}))
    uri = args.get("logout_uri") or args.get("post_logout_redirect_uri")
    if uri is not None and client is None:
        raise HostedError(_("The request is missing a valid client_id."))
    for name in ("logout_uri", "post_logout_redirect_uri"):
        if name in args and (client is None or args[name] not in client.logout_urls):
            raise HostedError(_("The logout_uri is not registered for this application."))
    state = args.get("state")
    target = authorize.add_params(uri, {"state": state}) if uri and state and len(state) <= 2048 else uri
    return LogoutRequest(client, target, cognito, hint_sub=hint["sub"] if hint else None,
                         sign_in_again=cognito and uri is None and "redirect_uri" in args)


def _hint(session: Session, keys: KeyCache, pool: UserPool, issuer: str, args: Any,
          client: AppClient | None) -> dict[str, Any] | None:
    """The claims of ``id_token_hint``, if sent: an ID token of this pool (expired or not),
    for ``client`` when one was named, with a ``sub`` and one ``aud``; else an error page."""
    token = args.get("id_token_hint")
    if token is None:
        return None
    try:
        claims = signed_claims(session, keys, pool, issuer, token, "id")
    except InvalidToken:
        claims = {}
    aud, sub = claims.get("aud"), claims.get("sub")
    if not isinstance(aud, str) or not isinstance(sub, str) or (client is not None and aud != client.id):
        raise HostedError(_("The id_token_hint is not an ID token of this user pool for this application."))
    return claims

