"""The implicit grant (RFC 6749 §4.2), as Cognito answers ``response_type=token``: an access
token, an ID token when the ``openid`` scope was granted (with ``nonce`` when the app sent
one, and ``at_hash``), ``token_type``, ``expires_in`` and ``state``, all in the redirect
URI's fragment, and never a refresh token (§4.2.2).

It is off unless the operator allows it per client (``broker client create --flow
implicit``, AllowedOAuthFlows ``implicit``): OAuth 2.1 drops it and RFC 9700 §2.1.2 says
not to use it, since the tokens travel in the address bar (history, logs, referrers) and
are bound to no sender. It is there for apps that move over from Cognito as they are.

    return redirect(implicit.location(session, pool, client, user, req, sign_in, ip))
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .. import ids
from ..runtime import runtime
from ..store.models import AppClient, User, UserPool
from .authorize import AuthorizationRequest, add_fragment
from .issue import signed_in_tokens


def location(session: Session, pool: UserPool, client: AppClient, user: User, req: AuthorizationRequest,
             sign_in: dict[str, Any], ip: str | None) -> str:
    """The redirect URI with the tokens for ``sign_in`` in its fragment; the tokens are a
    family of their own (``origin_jti``), audited as ``TokenIssued`` with grant ``implicit``
    (:func:`.issue.signed_in_tokens`, as for a code). A failing PreTokenGeneration trigger
    fails the request before anything is written."""
    rt = runtime()
    token = signed_in_tokens(
        session, rt.keys, rt.settings.base_url, pool, client, user, " ".join(req.scopes), grant_type="implicit",
        include_refresh_token=False, ip=ip, auth_time=sign_in["auth_time"], origin_jti=ids.uuid4(),
        event_id=ids.uuid4(), nonce=req.nonce, amr=tuple(sign_in.get("amr", ("pwd",))), sid=sign_in.get("sid"),
    )
    session.commit()
    params = {k: str(v) for k, v in token.items()}
    if req.state:
        params["state"] = req.state
    return add_fragment(req.redirect_uri, params)
