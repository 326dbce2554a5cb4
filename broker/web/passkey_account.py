"""A user's passkeys on the hosted UI: list them (name, when made and last used, whether
synced), add one, rename one, delete one. ``/passkeys`` takes the /oauth2/authorize
parameters (the app sends the user there, as to ``/mfaSettings``), asks for a sign-in, then
shows the list; "Done" returns to the app with an authorization code like any sign-in. The
same page offers a passkey right after a sign-up, when the pool allows passkeys.

Adding one needs a recent sign-in (:data:`FRESH_SECONDS`), as Keycloak's application
initiated actions do: a page left open longer asks for the sign-in again first.
Registration is WebAuthn's: https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential
"""
from __future__ import annotations

import time
from typing import Any

from flask import g, jsonify, redirect, render_template, request, url_for
from flask_babel import format_datetime
from werkzeug.wrappers import Response

from ..errors import InvalidInput, LimitExceeded
from ..i18n import gettext as _
from ..oauth import authorize
from ..runtime import runtime
from ..store.models import Passkey, User
from ..userpool import passkeys
from . import flow
from .forms import PasskeyAnswerForm, PasskeyForm, TxnForm, problems
from .pools import pool_blueprint

bp = pool_blueprint("passkey_account")
STEP = "passkeys"
#: How long after signing in a passkey may be added without signing in again.
FRESH_SECONDS = 300


def wanted(data: dict[str, Any]) -> bool:
    """Whether a finished sign-in goes to the passkey page: it was started for it, or it
    ends a sign-up in a pool that allows passkeys."""
    return data.get("purpose") == STEP or (bool(data.get("offer_passkey")) and allowed())


def allowed() -> bool:
    return passkeys.enabled(g.pool)


def show(data: dict[str, Any], user: User, signed_in_at: int | None = None) -> Response:
    """Go to the passkey page of ``data``'s transaction (a sign-in at ``signed_in_at``, now by default)."""
    at = signed_in_at or data.get("signed_in_at") or int(time.time())
    flow.save_login({**data, "step": STEP, "user_id": user.id, "signed_in_at": at})
    return redirect(url_for("passkey_account.manage", txn=data["txn"]))


@bp.get("/passkeys")
def start() -> Response:
    req, client = authorize.parse(g.db_session, g.pool, request.args)
    g.client_id = client.id
    return redirect(url_for("hosted.login", txn=flow.start_login(req, purpose=STEP), lang=req.lang))


def _fresh(data: dict[str, Any]) -> bool:
    return time.time() - int(data.get("signed_in_at") or 0) <= FRESH_SECONDS


def _reauthenticate(data: dict[str, Any]) -> Response:
    """Back to the sign-in page of the same transaction, which comes back here."""
    flow.save_login({**flow.fresh(data), "purpose": STEP})
    return redirect(url_for("hosted.login", txn=data["txn"], info="reauth"))


@bp.post("/passkeys/options")
def options() -> Response | tuple[Response, int]:
    """Creation options for a new passkey (JSON), the challenge waiting for the answer; a
    sign-in too old first goes back to the sign-in page (``{"location": ...}``)."""
    data, user = flow.load_step(STEP)
    problems(TxnForm())
    if not _fresh(data):
        flow.save_login({**flow.fresh(data), "purpose": STEP})
        return jsonify(location=url_for("hosted.login", txn=data["txn"], info="reauth")), 403
    try:
        options = passkeys.begin_registration(g.db_session, runtime().state, g.pool, user, runtime().settings)
    except passkeys.PasskeysNotEnabled:
        return jsonify(message=_("Passkeys are not available for this application.")), 403
    except LimitExceeded as exc:
        return jsonify(message=exc.message), 400
    return jsonify(options)


@bp.route("/passkeys/manage", methods=["GET", "POST"])
def manage() -> Response | str | tuple[str, int]:
    data, user = flow.load_step(STEP)
    error: str | list[str] | None = None
    info = None
    if request.method == "POST":
        action = request.form.get("action", "")
        if action == "add":
            made = PasskeyAnswerForm()
            unreadable = bool(problems(made))
            if not _fresh(data):
                return _reauthenticate(data)
            error, info = (_("The passkey's answer could not be read."), None) if unreadable else \
                _add(user, made.credential.data or "", request.form.get("name", ""))
        else:
            form = PasskeyForm()
            error = problems(form) or None
            if error is None and action == "done":
                return flow.finish_login({k: v for k, v in data.items() if k != "offer_passkey"}, user)
            if error is None and action == "reauth":
                return _reauthenticate(data)
            if error is None:
                error, info = _change(action, user, form)
    page = render_template("passkeys.html", **_page(data, user), error=error, info=info)
    return (page, 400) if error else page


def _add(user: User, credential: str, name: str) -> tuple[str | None, str | None]:
    """Keep the passkey the browser made (error, info)."""
    if not credential:
        return _("Adding a passkey needs a browser with JavaScript and passkey support."), None
    try:
        passkeys.finish_registration(g.db_session, runtime().state, g.pool, user, credential, runtime().settings,
                                     name.strip()[:passkeys.MAX_NAME] or None, ip=request.remote_addr)
    except passkeys.PasskeysNotEnabled:
        g.db_session.rollback()
        return _("Passkeys are not available for this application."), None
    except InvalidInput as exc:
        g.db_session.rollback()
        return exc.message, None
    g.db_session.commit()
    return None, _("The passkey was added. You can now sign in with it.")


def _change(action: str, user: User, form: PasskeyForm) -> tuple[str | None, str | None]:
    """Rename or delete one of the user's passkeys (error, info)."""
    credential_id = form.credential_id.data or ""
    try:
        if action == "rename":
            passkeys.rename(g.db_session, user, credential_id, form.name.data or "")
            info = _("The passkey was renamed.")
        elif action == "delete":
            passkeys.delete(g.db_session, g.pool, user, credential_id, ip=request.remote_addr)
            info = _("The passkey was deleted. It no longer signs you in.")
        else:
            return _("This change is not available."), None
    except InvalidInput as exc:
        g.db_session.rollback()
        return exc.message, None
    g.db_session.commit()
    return None, info


def _page(data: dict[str, Any], user: User) -> dict[str, Any]:
    return {"action": url_for("passkey_account.manage"), "options_url": url_for("passkey_account.options"),
            "txn": data["txn"], "username": user.username, "offer": bool(data.get("offer_passkey")),
            "fresh": _fresh(data), "allowed": allowed(), "max_name": passkeys.MAX_NAME,
            "passkeys": [_row(p) for p in passkeys.for_user(g.db_session, user)]}


def _row(row: Passkey) -> dict[str, Any]:
    if row.backed_up:
        synced = _("Synced and backed up")
    elif row.backup_eligible:
        synced = _("Can be synced; not backed up yet")
    else:
        synced = _("Kept on one device only")
    return {"id": row.credential_id, "name": row.name or _("Passkey"), "created": format_datetime(row.created_at),
            "last_used": format_datetime(row.last_used_at) if row.last_used_at else _("Never"), "synced": synced}
