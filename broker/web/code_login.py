"""Signing in with a one-time code by email or text message instead of the password, on the
hosted sign-in page, without JavaScript: "Email me a code" posts the username typed in the
sign-in form, the engine sends the code (:func:`broker.engine.first_factor.send_code`), and
the code page takes it (:func:`broker.engine.first_factor.answer_code`), with the bounds of
second-factor codes (wrong codes per sign-in, the user's lockout, codes sent per name).
A name that gets no code sees the same pages as one that does.
https://docs.aws.amazon.com/cognito/latest/developerguide/authentication-flows-selection-sdk.html
"""
from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..engine import first_factor
from ..engine.challenges import CODE_MISMATCH, ENDED, Refused
from ..errors import LimitExceeded, TriggerFailed
from ..i18n import gettext as _
from ..store.models import User
from . import flow, hosted
from . import mfa as mfa_step
from .forms import CodeSignInForm, MfaForm, problems
from .pools import pool_blueprint

bp = pool_blueprint("code_login")


@bp.post("/login/code")
def send() -> Response | tuple[str, int]:
    form = CodeSignInForm()
    data = flow.load_login(form.txn.data)
    wrong = problems(form)
    if wrong:
        return hosted.login_page(data, form.username.data or "", error=wrong), 400
    factor = form.factor.data
    if factor not in hosted.code_factors(data):
        return hosted.login_page(data, form.username.data, error=_("This change is not available.")), 400
    try:
        step = first_factor.send_code(mfa_step.env(data), flow.fresh(data), form.username.data, factor)
    except (LimitExceeded, TriggerFailed) as exc:
        hosted.keep_refusal(exc)
        return hosted.login_page(data, form.username.data, error=exc.message), exc.status
    flow.save_login({**step.progress, "destination": step.parameters.get("CODE_DELIVERY_DESTINATION", "")})
    return redirect(url_for("code_login.verify", txn=data["txn"]))


def _waiting() -> tuple[dict[str, Any], User | None]:
    """The sign-in waiting for a first-factor code in this browser, and its user (None for
    a name that got no code); anything else is an expired sign-in."""
    txn = request.form.get("txn") if request.method == "POST" else request.args.get("txn")
    data = flow.load_login(txn)
    if not data.get("first_factor") or data.get("step") not in first_factor.CODE_FACTORS or \
            not flow.same_browser(data):
        raise flow.expired()
    user = g.db_session.get(User, data.get("user_id") or 0)
    if user is not None and not flow.still_signed_in(data, user):
        raise flow.expired()
    return data, user


@bp.route("/login/code/verify", methods=["GET", "POST"])
def verify() -> Response | str | tuple[str, int]:
    data, user = _waiting()
    error: str | list[str] | None = None
    if request.method == "POST":
        form = MfaForm()
        error = problems(form) or None
        if error is None:
            try:
                return mfa_step.render(first_factor.answer_code(mfa_step.env(data), data, user, form.code.data.strip()))
            except Refused as exc:
                if exc.reason != ENDED and (exc.reason != CODE_MISMATCH or exc.progress is None):
                    return hosted.refused(data, exc)  # the account's status, or a blocked sign-in
                error = mfa_step.code_refused(data, exc)
    page = render_template("signin_code.html", action=url_for("code_login.verify"), txn=data["txn"],
                           factor=data["factor"], destination=data.get("destination", ""), error=error,
                           back_url=url_for("hosted.login", txn=data["txn"]))
    return (page, 400) if error else page
