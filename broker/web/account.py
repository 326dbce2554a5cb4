"""Managing one's second factors from the hosted UI, after signing in again: remove or
replace the authenticator app, get new recovery codes, turn codes by email on or off.

``/mfaSettings`` takes the /oauth2/authorize parameters (the app sends the user there), always
asks for the password (and the current second factor), then shows the settings; "Done"
returns to the app with an authorization code like any sign-in.
"""
from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..oauth import authorize
from ..store.models import User, UserMfa
from ..userpool import audit, mfa
from ..userpool import mfa_settings as factor_rules  # the view below is named mfa_settings
from ..userpool.mfa_settings import FactorRefused
from . import flow, passkey_account
from .forms import TxnForm
from .pools import pool_blueprint

bp = pool_blueprint("account")


@bp.get("/mfaSettings")
def start() -> Response:
    req, client = authorize.parse(g.db_session, g.pool, request.args)
    g.client_id = client.id
    return redirect(url_for("hosted.login", txn=flow.start_login(req, purpose="mfa_settings"), lang=req.lang))


@bp.route("/mfaSettings/manage", methods=["GET", "POST"])
def mfa_settings() -> Response | str | tuple[str, int]:
    data, user = flow.load_step("mfa_settings")
    row = g.db_session.get(UserMfa, user.id)
    error = info = None
    if request.method == "POST":
        if not TxnForm().validate():
            raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
        action = request.form.get("action", "")
        if action == "done":
            return flow.finish_login(data, user)
        if action == "passkeys" and passkey_account.allowed():
            return passkey_account.show(data, user)
        if action == "new_totp":
            flow.save_login({**data, "step": "mfa_setup", "secret": None})
            return redirect(url_for("mfa.setup", txn=data["txn"]))
        if action == "recovery" and row is not None and row.totp_enabled:
            codes = mfa.new_recovery_codes(row)
            audit.record(g.db_session, g.pool.id, "NewRecoveryCodes", audit.PASS, user=user, ip=request.remote_addr)
            g.db_session.commit()
            flow.save_login({**data, "step": "mfa_recovery", "codes": codes})
            return redirect(url_for("mfa.setup_done", txn=data["txn"]))
        error, info = _change(action, user, row)
    page = render_template("mfa_settings.html", action=url_for("account.mfa_settings"), txn=data["txn"],
                           **_status(user, g.db_session.get(UserMfa, user.id)), error=error, info=info)
    return (page, 400) if error else page


def _change(action: str, user: User, row: UserMfa | None) -> tuple[str | None, str | None]:
    """Apply a remove / email on / email off action (by the rules of
    :mod:`broker.userpool.mfa_settings`): (error, info)."""
    status = _status(user, row)
    try:
        if action == "remove_totp" and status["totp"]:
            factor_rules.remove_totp(g.db_session, g.pool, user, ip=request.remote_addr)
            info = _("The authenticator app was removed.")
        elif action in ("email_on", "email_off") and status["email_allowed"]:
            factor_rules.change(g.db_session, g.pool, user, {mfa.EMAIL_OTP: action == "email_on"},
                                ip=request.remote_addr, event="SetEmailOtp")
            info = _("Codes by email are on.") if action == "email_on" else _("Codes by email are off.")
        else:
            return _("This change is not available."), None
    except FactorRefused as exc:
        g.db_session.rollback()
        return exc.message, None
    g.db_session.commit()
    return None, info


def _status(user: User, row: UserMfa | None) -> dict[str, Any]:
    return {
        "passkeys": passkey_account.allowed(),
        "totp": bool(row and row.totp_enabled), "email": bool(row and row.email_otp_enabled),
        "email_allowed": factor_rules.email_allowed(g.pool, user),
        "recovery_left": len(row.recovery_codes) if row else 0, "username": user.username,
    }
