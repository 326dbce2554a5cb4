"""The second step of a sign-in: a TOTP or emailed code, or a recovery code; and TOTP
enrolment when the pool requires MFA. Both are steps of the login transaction, so the
password step alone never yields a code for the app."""
from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..runtime import runtime
from ..store.models import User
from ..store.state import Keys
from ..userpool import audit, mfa
from . import flow
from .forms import MfaForm, TxnForm
from .pools import pool_blueprint

bp = pool_blueprint("mfa")
MAX_FAILURES = 5
OTP_AMR = ["pwd", "otp", "mfa"]


def begin(data: dict[str, Any], user: User) -> Response:
    """After the password (or a first password change): ask for the second factor the pool
    and the user call for, or finish the sign-in."""
    found = mfa.challenge(g.db_session, g.pool, user)
    if found.setup:
        flow.save_login({**data, "step": "mfa_setup", "user_id": user.id, "amr": ["pwd"]})
        return redirect(url_for("mfa.setup", txn=data["txn"]))
    if found.factor:
        flow.save_login({**data, "step": "mfa", "user_id": user.id, "factor": found.factor, "amr": ["pwd"],
                         "failures": 0})
        if found.factor == mfa.EMAIL_OTP:
            _send_email_code(user)
        return redirect(url_for("mfa.challenge_page", txn=data["txn"]))
    return flow.finish_login(data, user)


def _send_email_code(user: User) -> None:
    rt = runtime()
    mfa.send_email_code(rt.state, rt.sender, g.pool, user, _("Your sign-in code"),
                        _("Your sign-in code is %(code)s. It expires in 5 minutes.", code="{code}"))


def _step(step: str) -> tuple[dict[str, Any], User]:
    txn = request.form.get("txn") if request.method == "POST" else request.args.get("txn")
    data = flow.load_login(txn)
    user = g.db_session.get(User, data.get("user_id") or 0)
    if data.get("step") != step or user is None or not user.enabled:
        raise HostedError(_("Your sign-in session has expired. Go back to the application and sign in again."))
    return data, user


@bp.route("/mfa", methods=["GET", "POST"])
def challenge_page() -> Response | str | tuple[str, int]:
    data, user = _step("mfa")
    form = MfaForm()
    error = None
    if request.method == "POST":
        code = (form.code.data or "").strip() if form.validate() else ""
        amr = _verify(data["factor"], user, code)
        if amr:
            audit.record(g.db_session, g.pool.id, "SignInMfa", audit.PASS, user=user, ip=request.remote_addr,
                         factor=data["factor"], amr=amr)
            g.db_session.commit()
            return flow.finish_login({**data, "amr": amr}, user)
        data["failures"] = data.get("failures", 0) + 1
        ended = data["failures"] >= MAX_FAILURES
        audit.record(g.db_session, g.pool.id, "SignInMfa", audit.BLOCK if ended else audit.FAIL, user=user,
                     ip=request.remote_addr, factor=data["factor"], failures=data["failures"])
        g.db_session.commit()
        if ended:
            runtime().state.delete(Keys.login(data["txn"]))
            raise HostedError(_("Too many wrong codes. Go back to the application and sign in again."))
        flow.save_login(data)
        error = _("The code is not valid. Try again.")
    page = render_template("mfa.html", action=url_for("mfa.challenge_page"), txn=data["txn"], factor=data["factor"],
                           error=error, resend_action=url_for("mfa.resend"))
    return (page, 400) if error else page


def _verify(factor: str, user: User, code: str) -> list[str] | None:
    if len(code) == 11 and mfa.use_recovery_code(g.db_session, user, code):
        return ["pwd", "mfa"]
    if factor == mfa.TOTP and mfa.check_totp(g.db_session, user, code):
        return OTP_AMR
    if factor == mfa.EMAIL_OTP and mfa.check_email_code(runtime().state, g.pool, user, code):
        return OTP_AMR
    return None


@bp.post("/mfa/resend")
def resend() -> Response:
    data, user = _step("mfa")
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    if data["factor"] == mfa.EMAIL_OTP:
        _send_email_code(user)
    return redirect(url_for("mfa.challenge_page", txn=data["txn"]))


@bp.route("/mfaSetup", methods=["GET", "POST"])
def setup() -> Response | str | tuple[str, int]:
    data, user = _step("mfa_setup")
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
            flow.save_login({**data, "step": "mfa_recovery", "secret": None, "amr": OTP_AMR})
            return render_template("mfa_recovery.html", action=url_for("mfa.setup_done"), txn=data["txn"],
                                   codes=recovery)
        error = _("The code is not valid. Try again.")
    uri = mfa.provisioning_uri(data["secret"], g.pool, user)
    page = render_template("mfa_setup.html", action=url_for("mfa.setup"), txn=data["txn"], secret=data["secret"],
                           qr=mfa.qr_data_uri(uri), error=error)
    return (page, 400) if error else page


@bp.post("/mfaSetup/done")
def setup_done() -> Response:
    data, user = _step("mfa_recovery")
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    return flow.finish_login(data, user)
