"""The hosted UI's pages of the sign-in engine's later steps (:mod:`broker.engine.signin`):
a TOTP, emailed or texted code, or a recovery code; TOTP enrolment when the pool requires
MFA. Each is a step of the login transaction, so the password step alone never yields a
code for the app."""
from __future__ import annotations

import secrets
import time
from typing import Any

from flask import current_app, g, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..runtime import runtime
from ..store.models import User
from ..store.state import Keys
from ..engine import signin
from ..engine.challenges import ENDED, FACTOR_CHALLENGES, MFA_SETUP, NEW_PASSWORD_REQUIRED, Refused, SignedIn
from ..userpool import adaptive, mfa
from ..userpool.security import Security
from ..userpool.throttle import Throttle
from . import flow, passkey_account, verify
from .forms import MfaForm, TxnForm
from .pools import pool_blueprint

bp = pool_blueprint("mfa")
#: The page that shows the recovery codes of a TOTP just enrolled (the hosted UI's own step).
RECOVERY_STEP = "mfa_recovery"
DEVICE_COOKIE = "cognate_device"


def env(data: dict[str, Any]) -> signin.Env:
    """The engine's view of this request for the sign-in ``data``."""
    rt = runtime()
    return signin.Env(g.db_session, rt.state, rt.sender, rt.sms, g.pool, context(),
                      remembered_skips_mfa=data.get("purpose") != "mfa_settings",
                      throttle=Throttle(rt.state, rt.settings.lockout_free_attempts, rt.settings.lockout_max_delay))


def begin(data: dict[str, Any], user: User) -> Response:
    """After a confirmed sign-up: the second factor, or the end."""
    flow.require_proven(data, user)
    data = {**data, "offer_passkey": True}  # the passkey page offers one at the end, where the pool allows them
    try:
        return render(signin.after_confirmation(env(data), data, user))
    except Refused as exc:
        raise HostedError(exc.message, 403) from None


def render(step: signin.Step) -> Response:
    """The page of the engine's next step, or the end of the sign-in."""
    if isinstance(step, SignedIn):
        return finish(step.progress, step.user)
    flow.save_login(step.progress)
    pages = {NEW_PASSWORD_REQUIRED: "hosted.new_password", MFA_SETUP: "mfa.setup"}
    return redirect(url_for(pages.get(step.name, "mfa.challenge_page"), txn=step.progress["txn"]))


def context() -> adaptive.Context:
    """This request as adaptive authentication weighs it."""
    return adaptive.Context(_ip(), device_key(), request.headers.get("User-Agent"))


def complete(data: dict[str, Any], user: User, remember: bool = False) -> Response:
    """The sign-in is done: the engine notes the device (remembered if asked and allowed)."""
    return render(signin.signed_in(env(data), data, user, remember))


def finish(data: dict[str, Any], user: User) -> Response:
    """What the hosted UI does after a sign-in: a changed email or phone number waits for its
    code, a sign-in to manage the second factors or the passkeys goes there (as does a
    sign-up, to offer a passkey), any other goes back to the app."""
    if verify.due(data, user):
        return verify.start(data, user)
    if data.get("purpose") == "mfa_settings":  # signed in again to manage the second factors
        flow.save_login({**data, "step": "mfa_settings", "user_id": user.id, "codes": None,
                         "signed_in_at": int(time.time())})
        return redirect(url_for("account.mfa_settings", txn=data["txn"]))
    if passkey_account.wanted(data):
        return passkey_account.show(data, user, int(time.time()))
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


@bp.route("/mfa", methods=["GET", "POST"])
def challenge_page() -> Response | str | tuple[str, int]:
    data, user = flow.load_step(*FACTOR_CHALLENGES.values())
    form = MfaForm()
    error = None
    if request.method == "POST":
        code = (form.code.data or "").strip() if form.validate() else ""
        try:
            return render(signin.answer_code(env(data), data, user, code, request.form.get("remember") == "yes"))
        except Refused as exc:
            error = code_refused(data, exc)
    page = render_template("mfa.html", action=url_for("mfa.challenge_page"), txn=data["txn"], factor=data["factor"],
                           error=error, resend_action=url_for("mfa.resend"), remember_days=_remember_days())
    return (page, 400) if error else page


def code_refused(data: dict[str, Any], exc: Refused) -> str:
    """A wrong code: the message to show, the sign-in kept for another try; one the refusal
    ended (too many wrong codes, a locked-out user) is gone, and an error page says why."""
    if exc.reason == ENDED or exc.progress is None:
        runtime().state.delete(Keys.login(data["txn"]))
        raise HostedError(exc.message) from None
    flow.save_login(exc.progress)
    return exc.message


@bp.post("/mfa/resend")
def resend() -> Response:
    data, user = flow.load_step(*FACTOR_CHALLENGES.values())
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    signin.send_code(env(data), user, data["factor"])
    return redirect(url_for("mfa.challenge_page", txn=data["txn"]))


@bp.route("/mfaSetup", methods=["GET", "POST"])
def setup() -> Response | str | tuple[str, int]:
    data, user = flow.load_step(MFA_SETUP)
    if not data.get("secret"):
        data = signin.setup_secret(data)
        flow.save_login(data)
    error = None
    if request.method == "POST":
        form = MfaForm()
        try:
            progress, recovery = signin.answer_setup(env(data), data, user,
                                                  (form.code.data or "") if form.validate() else "")
        except Refused as exc:
            error = exc.message
        else:  # Post/Redirect/Get: a reload shows the codes again until the user goes on
            flow.save_login({**progress, "step": RECOVERY_STEP, "codes": recovery})
            return redirect(url_for("mfa.setup_done", txn=data["txn"]))
    uri = mfa.provisioning_uri(data["secret"], g.pool, user)
    page = render_template("mfa_setup.html", action=url_for("mfa.setup"), txn=data["txn"], secret=data["secret"],
                           qr=mfa.qr_data_uri(uri), error=error)
    return (page, 400) if error else page


@bp.route("/mfaSetup/done", methods=["GET", "POST"])
def setup_done() -> Response | str:
    """Shows the recovery codes (kept in the login transaction only until the user goes on)."""
    data, user = flow.load_step(RECOVERY_STEP)
    if request.method == "GET":
        return render_template("mfa_recovery.html", action=url_for("mfa.setup_done"), txn=data["txn"],
                               codes=data.get("codes") or [])
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    return complete({**data, "codes": None}, user)
