"""The login transaction and the hosted-UI session, shared by /oauth2/authorize and the
hosted pages. Both live in the state store, so any node can serve any step.

- A login transaction (``txn``) holds a validated authorization request while the user
  goes through the hosted pages; its id travels in the page's forms.
- The hosted session remembers who signed in to which pool (Cognito's hosted-UI cookie),
  so a second authorization request is answered without a form.
"""
from __future__ import annotations

import secrets
import time
from typing import Any

from flask import g, redirect, request, session as cookie
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..oauth import backchannel, codes, implicit
from ..oauth.authorize import AuthorizationRequest, add_params
from ..runtime import runtime
from ..store.models import AppClient, User
from ..store.state import Keys
from ..userpool import limits


#: What a login transaction holds from its start; the rest belongs to the user of a sign-in.
STARTED = ("txn", "pool", "request", "purpose")


def expired() -> HostedError:
    return HostedError(_("Your sign-in session has expired. Go back to the application and sign in again."))


def start_login(req: AuthorizationRequest, purpose: str | None = None) -> str:
    """A new login transaction; ``purpose`` names what follows the sign-in instead of going
    straight back to the app (``"mfa_settings"``: the user manages their second factors).

    Anyone can start one without signing in, and each is a record in the state store for
    ``login_ttl``: the record holds only the request's values that were sent (no defaults,
    no empty fields), and one client network starts at most ``login_starts_per_minute``."""
    rt = runtime()
    limit = rt.settings.login_starts_per_minute
    if limit and rt.state.incr(Keys.login_starts(limits.network(request.remote_addr)), 60) > limit:
        raise HostedError(_("Too many sign-ins were started from your network. Wait a minute and try again."), 429)
    txn = secrets.token_urlsafe(24)
    data: dict[str, Any] = {"pool": g.pool.id, "request": req.as_dict(), "step": "password"}
    if purpose:
        data["purpose"] = purpose
    rt.state.put(Keys.login(txn), data, rt.settings.login_ttl)
    return txn


def fresh(data: dict[str, Any]) -> dict[str, Any]:
    """What a password step in this browser starts from: only what the transaction started
    with (nothing of an earlier sign-in in it: another user, factors passed, a pending step)
    and this browser's id, which the later steps ask for (:func:`require_proven`)."""
    started = {k: data[k] for k in STARTED if k in data}
    return {**started, "step": "password", "browser": browser_id()}


def proven(data: dict[str, Any], user: User, **more: Any) -> dict[str, Any]:
    """The transaction once ``user`` has proven a password (or signed up) in it, in this
    browser: only what it started with, so nothing of an earlier sign-in in it (another
    user, factors passed, a pending step) carries over; the user's ``sub`` and
    ``session_epoch`` now; and this browser's id (from the signed cookie), which the later
    steps ask for (:func:`require_proven`)."""
    return {**fresh(data), "sub": user.sub, "epoch": user.session_epoch, **more}


def browser_id() -> str:
    """This browser's id in the signed session cookie, made when it is first shown a page
    with a password form, so that forms it sends at once (a double click) name one browser."""
    browser = cookie.get("bid")
    if not isinstance(browser, str):
        browser = cookie["bid"] = secrets.token_urlsafe(24)
    return browser


def require_proven(data: dict[str, Any], user: User) -> None:
    """Refuse, as expired, a sign-in in progress that ``user`` did not prove in this very
    browser (a transaction id planted in a link, or seen, gives nobody the sign-in), or that
    a sign-out everywhere ended since."""
    if not same_browser(data) or not still_signed_in(data, user):
        raise expired()


def same_browser(data: dict[str, Any]) -> bool:
    """Whether this request comes from the browser that started the sign-in ``data``."""
    browser = cookie.get("bid")
    return isinstance(browser, str) and secrets.compare_digest(str(data.get("browser", "")), browser)


def load_login(txn: str | None) -> dict[str, Any]:
    """The transaction named by ``txn``; an expired one gets an error page, never a redirect."""
    data = runtime().state.get(Keys.login(txn)) if txn and len(txn) <= 64 else None
    if data is None or data.get("pool") != g.pool.id:
        raise expired()
    data["txn"] = txn
    g.client_id = data["request"]["client_id"]  # the page is branded for this app client
    g.back_url = login_request(data).fail("access_denied", "The user cancelled the sign-in.").location
    return data


def load_step(*steps: str) -> tuple[dict[str, Any], User]:
    """The transaction of a page that is one of ``steps`` of a sign-in (its txn from the form
    or the URL) and its user, who has proven the password; anything else is an expired session."""
    txn = request.form.get("txn") if request.method == "POST" else request.args.get("txn")
    data = load_login(txn)
    user = g.db_session.get(User, data.get("user_id") or 0)
    if data.get("step") not in steps or user is None or not user.enabled:
        raise expired()
    require_proven(data, user)
    return data, user


def still_signed_in(record: dict[str, Any], user: User) -> bool:
    """Whether ``record`` (a hosted session's entry, a sign-in in progress, a code) is of this
    very user (an id freed by a deletion can come back on SQLite; the ``sub`` never does) and
    of the user's current ``session_epoch``: no sign-out everywhere happened since it began."""
    return record.get("sub", user.sub) == user.sub and record.get("epoch", 0) == user.session_epoch


def save_login(data: dict[str, Any]) -> None:
    body = {k: v for k, v in data.items() if k != "txn"}
    runtime().state.put(Keys.login(data["txn"]), body, runtime().settings.login_ttl)


def login_request(data: dict[str, Any]) -> AuthorizationRequest:
    return AuthorizationRequest.from_dict(data["request"])


def current_sign_in() -> dict[str, Any] | None:
    """This browser's sign-in to the current pool: ``{"user_id", "sub", "auth_time", "amr",
    "epoch", "sid"}`` or None, also when the user was disabled or signed out everywhere since."""
    entry = stored_sign_in()
    if not entry:
        return None
    user = g.db_session.get(User, entry["user_id"])
    if user is None or not user.enabled or user.pool_id != g.pool.id or not still_signed_in(entry, user):
        return None
    return entry


def stored_sign_in() -> dict[str, Any] | None:
    """What this browser's hosted session holds for the current pool, whether or not it
    still counts as a sign-in: logging out tells the upstream IdP in either case."""
    sid = cookie.get("sid")
    if not isinstance(sid, str):
        return None
    data = runtime().state.get(Keys.session(sid)) or {}
    return data.get("pools", {}).get(g.pool.id) or None


def remember_sign_in(user: User, auth_time: int, amr: list[str], upstream: dict[str, Any] | None = None) -> str:
    """Record the sign-in under a fresh session id (no fixation across sign-ins);
    ``upstream`` names the IdP of a federated sign-in (and its single-logout data). Returns
    the sign-in's ``sid`` (OpenID Connect Back-Channel Logout 1.0 §2.1), the one the user
    had in this browser and pool if the same user signs in again, so that the apps of the
    session are still told when it ends; it is not the cookie's id, which never leaves it."""
    rt = runtime()
    old = cookie.get("sid")
    data = (rt.state.get(Keys.session(old)) if isinstance(old, str) else None) or {"pools": {}}
    if isinstance(old, str):
        rt.state.delete(Keys.session(old))
    before = data["pools"].get(g.pool.id) or {}
    sid = before["sid"] if before.get("sub") == user.sub and isinstance(before.get("sid"), str) \
        else secrets.token_urlsafe(16)
    data["pools"][g.pool.id] = {"user_id": user.id, "sub": user.sub, "auth_time": auth_time, "amr": amr,
                                "epoch": user.session_epoch, "sid": sid}
    if upstream:
        data["pools"][g.pool.id]["upstream"] = upstream
    handle = secrets.token_urlsafe(32)
    rt.state.put(Keys.session(handle), data, rt.settings.session_ttl)
    cookie["sid"] = handle
    return sid


def forget_sign_in() -> None:
    rt = runtime()
    sid = cookie.get("sid")
    if isinstance(sid, str):
        data = rt.state.get(Keys.session(sid)) or {"pools": {}}
        data["pools"].pop(g.pool.id, None)
        rt.state.delete(Keys.session(sid))
        if data["pools"]:
            new = secrets.token_urlsafe(32)
            rt.state.put(Keys.session(new), data, rt.settings.session_ttl)
            cookie["sid"] = new
        else:
            cookie.pop("sid", None)


def sign_out() -> dict[str, Any] | None:
    """Sign this browser out of the current pool: its hosted session's entry is forgotten and
    the apps the session signed in are told (:func:`broker.oauth.backchannel.session_ended`).
    Returns the entry (:func:`stored_sign_in`), for the upstream IdP to be told too."""
    rt = runtime()
    entry = stored_sign_in()
    forget_sign_in()
    backchannel.session_ended(g.db_session, rt.config, rt.state, rt.sender, g.pool.id, entry)
    return entry


def needs_login(req: AuthorizationRequest, sign_in: dict[str, Any] | None) -> bool:
    if sign_in is None or req.prompt == "login":
        return True
    return req.max_age is not None and time.time() - sign_in["auth_time"] > req.max_age


def redirect_to_app(req: AuthorizationRequest, sign_in: dict[str, Any]) -> Response:
    """Back to the app for ``sign_in`` (``user_id``, ``sub``, ``auth_time``, ``amr``,
    ``epoch``, ``sid``) with a code, or with tokens in the fragment for the implicit grant,
    if the client still has that callback URL (a login may outlive its removal). A client
    with a back-channel logout URL is noted as one of the session's apps, to be told when
    the session ends (:mod:`broker.oauth.backchannel`)."""
    rt = runtime()
    client = rt.config.client(g.db_session, g.pool.id, req.client_id)
    if client is None or req.redirect_uri not in client.callback_urls:
        raise HostedError(_("The redirect_uri is not registered for this application."))
    if sign_in.get("sid"):
        backchannel.note_client(rt.state, rt.settings.session_ttl, g.pool.id, sign_in["sid"], client)
    if req.response_type == "token":
        return redirect(_implicit_location(req, client, sign_in), code=302)
    code = codes.issue(
        rt.state, g.pool.id, rt.settings.code_ttl, client_id=req.client_id, redirect_uri=req.redirect_uri,
        scope=" ".join(req.scopes), user_id=sign_in["user_id"], auth_time=sign_in["auth_time"], nonce=req.nonce,
        code_challenge=req.code_challenge, code_challenge_method=req.code_challenge_method,
        amr=tuple(sign_in.get("amr", ("pwd",))), epoch=sign_in.get("epoch", 0), sub=sign_in.get("sub"),
        sid=sign_in.get("sid"),
    )
    params = {"code": code}
    if req.state:
        params["state"] = req.state
    return redirect(add_params(req.redirect_uri, params), code=302)


def _implicit_location(req: AuthorizationRequest, client: AppClient, sign_in: dict[str, Any]) -> str:
    """The tokens of the implicit grant (:mod:`broker.oauth.implicit`), if the client still
    allows it and ``sign_in`` still stands (tokens are minted now, not at a later exchange)."""
    if "implicit" not in client.allowed_flows:  # taken away since the sign-in began
        raise req.fail("unauthorized_client", "The client may not use the implicit flow.")
    user = g.db_session.get(User, sign_in["user_id"])
    if user is None or not user.enabled or user.pool_id != g.pool.id or not still_signed_in(sign_in, user):
        raise expired()
    return implicit.location(g.db_session, g.pool, client, user, req, sign_in, request.remote_addr)


def finish_login(data: dict[str, Any], user: User) -> Response:
    """The user is authenticated for this transaction: session, code, back to the app."""
    require_proven(data, user)
    sign_in = {"user_id": user.id, "sub": user.sub, "auth_time": int(time.time()), "amr": data.get("amr", ["pwd"]),
               "epoch": user.session_epoch}
    sign_in["sid"] = remember_sign_in(user, sign_in["auth_time"], sign_in["amr"])
    runtime().state.delete(Keys.login(data["txn"]))
    return redirect_to_app(login_request(data), sign_in)
