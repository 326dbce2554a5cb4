"""The second step of a sign-in: a TOTP or emailed code, or a recovery code; and TOTP
enrolment when the pool requires MFA. Both are steps of the login transaction, so the
password step alone never yields a code for the app."""
from __future__ import annotations

import secrets
from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..runtime import runtime
from ..store.models import User
from ..store.state import Keys
from ..userpool import adaptive, audit, mfa, risk
from ..userpool.security import Security
from . import flow, verify
from .forms import MfaForm, TxnForm
from .pools import pool_blueprint

bp = pool_blueprint("mfa")
MAX_FAILURES = 5
DEVICE_COOKIE = "cognate_device"


def begin(data: dict[str, Any], user: User) -> Response:
    """After the password (or a first password change): follow the risk decision made at the
    password step (weighed now when the user came another way, such as a confirmed sign-up),
    then ask for the second factor the pool, the user and the risk call for, or finish."""
    flow.require_proven(data, user)
    assessment = adaptive.from_data(data.get("risk")) or adaptive.decide(g.db_session, g.pool, user, context())
    g.db_session.commit()
    if assessment.action == risk.BLOCK:  # not after a password: a password step answers a block as a wrong one
        raise HostedError(_("This sign-in was blocked for your protection. Contact your administrator."), 403)
    found = mfa.challenge(g.db_session, g.pool, user)
    if found.setup:
        flow.save_login({**data, "step": "mfa_setup", "user_id": user.id, "amr": ["pwd"]})
        return redirect(url_for("mfa.setup", txn=data["txn"]))
    # A remembered device skips the second factor, except to manage the second factors.
    skip = assessment.remembered and bool(_remember_days()) and data.get("purpose") != "mfa_settings"
    factor = None if skip else found.factor
    if factor is None and assessment.action == risk.MFA and not skip:
        factor = adaptive.step_up_factor(g.db_session, g.pool, user)
        if factor is None:
            raise HostedError(_("This sign-in was blocked for your protection. Contact your administrator."), 403)
    if factor:
        flow.save_login({**data, "step": "mfa", "user_id": user.id, "factor": factor, "amr": ["pwd"],
                         "failures": 0})
        _send_code(factor, user)
        return redirect(url_for("mfa.challenge_page", txn=data["txn"]))
    return complete(data, user)


def context() -> adaptive.Context:
    """This request as adaptive authentication weighs it."""
    return adaptive.Context(_ip(), device_key(), request.headers.get("User-Agent"))


def complete(data: dict[str, Any], user: User, remember: bool = False) -> Response:
    """The sign-in is done: note the device (remembered if asked and allowed), then finish."""
    days = _remember_days() if remember else 0
    risk.seen(g.db_session, user, device_key(), _ip(), request.headers.get("User-Agent"), days)
    g.db_session.commit()
    if verify.due(data, user):  # a changed email or phone number waits for its code
        return verify.start(data, user)
    if data.get("purpose") == "mfa_settings":  # signed in again to manage the second factors
        flow.save_login({**data, "step": "mfa_settings", "user_id": user.id, "codes": None})
        return redirect(url_for("account.mfa_settings", txn=data["txn"]))
    return flow.finish_login(data, user)


def _remember_days() -> int:
    return Security.of(g.pool.security).remember_devices_days


def device_key() -> str:
    """This browser's device key, from its signed long-lived cookie (a new one if absent)."""
    if "device_key" not in g:
        signer = URLSafeSerializer(current_app.secret_key, salt="cognate-device")
        try:
            g.device_key = signer.loads(request.cookies.get(DEVICE_COOKIE, ""))
        except BadSignature:
            g.device_key = secrets.token_urlsafe(24)
            g.new_device_cookie = signer.dumps(g.device_key)
    return g.device_key


@bp.after_app_request
def _set_device_cookie(response: Response) -> Response:
    if g.get("new_device_cookie"):
        response.set_cookie(DEVICE_COOKIE, g.new_device_cookie, max_age=365 * 86400, httponly=True,
                            samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


def _ip() -> str:
    return request.remote_addr or "-"


def _send_code(factor: str, user: User) -> None:
    rt = runtime()
    text = _("Your sign-in code is %(code)s. It expires in 5 minutes.", code="{code}")
    if factor == mfa.EMAIL_OTP:
        mfa.send_email_code(rt.state, rt.sender, g.pool, user, _("Your sign-in code"), text)
    elif factor == mfa.SMS_OTP:
        mfa.send_sms_code(rt.state, rt.sms, g.pool, user, text)


@bp.route("/mfa", methods=["GET", "POST"])
def challenge_page() -> Response | str | tuple[str, int]:
    data, user = flow.load_step("mfa")
    form = MfaForm()
    error = None
    if request.method == "POST":
        code = (form.code.data or "").strip() if form.validate() else ""
        answer = mfa.answer(g.db_session, runtime().state, g.pool, user, data["factor"], code, request.remote_addr)
        if answer.amr:
            audit.record(g.db_session, g.pool.id, "SignInMfa", audit.PASS, user=user, ip=request.remote_addr,
                         factor=data["factor"], amr=answer.amr)
            g.db_session.commit()
            return complete({**data, "amr": answer.amr}, user, remember=request.form.get("remember") == "yes")
        data["failures"] = data.get("failures", 0) + 1
        ended = data["failures"] >= MAX_FAILURES or not answer.checked
        audit.record(g.db_session, g.pool.id, "SignInMfa", audit.BLOCK if ended else audit.FAIL, user=user,
                     ip=request.remote_addr, factor=data["factor"], failures=data["failures"])
        g.db_session.commit()
        if ended:
            runtime().state.delete(Keys.login(data["txn"]))
            raise HostedError(_("Too many wrong codes. Go back to the application and sign in again."))
        flow.save_login(data)
        error = _("The code is not valid. Try again.")
    page = render_template("mfa.html", action=url_for("mfa.challenge_page"), txn=data["txn"], factor=data["factor"],
                           error=error, resend_action=url_for("mfa.resend"), remember_days=_remember_days())
    return (page, 400) if error else page


@bp.post("/mfa/resend")
def resend() -> Response:
    data, user = flow.load_step("mfa")
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    _send_code(data["factor"], user)
    return redirect(url_for("mfa.challenge_page", txn=data["txn"]))


@bp.route("/mfaSetup", methods=["GET", "POST"])
def setup() -> Response | str | tuple[str, int]:
    data, user = flow.load_step("mfa_setup")
    if not data.get("secret"):
        data["secret"] = mfa.new_secret()
        flow.save_login(data)
    error = None
    if request.method == "POST":
        form = MfaForm()
        recovery = mfa.enable_totp(g.db_session, user, data["secret"], form.code.data or "") if form.validate() else None
        if recovery is not None:
            audit.record(g.db_session, g.pool.id, "AssociateSoftwareToken", audit.PASS, user=user, ip=request.remote_addr)
            g.db_session.commit()
            # Post/Redirect/Get: a reload shows the codes again until the user goes on
            flow.save_login({**data, "step": "mfa_recovery", "secret": None, "amr": mfa.OTP_AMR, "codes": recovery})
            return redirect(url_for("mfa.setup_done", txn=data["txn"]))
        error = _("The code is not valid. Try again.")
    uri = mfa.provisioning_uri(data["secret"], g.pool, user)
    page = render_template("mfa_setup.html", action=url_for("mfa.setup"), txn=data["txn"], secret=data["secret"],
                           qr=mfa.qr_data_uri(uri), error=error)
    return (page, 400) if error else page


@bp.route("/mfaSetup/done", methods=["GET", "POST"])
def setup_done() -> Response | str:
    """Shows the recovery codes (kept in the login transaction only until the user goes on)."""
    data, user = flow.load_step("mfa_recovery")
    if request.method == "GET":
        return render_template("mfa_recovery.html", action=url_for("mfa.setup_done"), txn=data["txn"],
                               codes=data.get("codes") or [])
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    return complete({**data, "codes": None}, user)
