"""The hosted UI and the browser-facing OAuth endpoints: /oauth2/authorize, /login,
/signup, /confirmUser, /forgotPassword, /confirmForgotPassword (/logout: :mod:`.logout`).
Views parse, call userpool/ or oauth/, and render or redirect."""
from __future__ import annotations

from contextlib import suppress
from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..errors import FormInvalid, HostedError, LimitExceeded, SignInFailed, Throttled, TriggerFailed
from ..i18n import gettext as _
from ..oauth import authorize
from ..engine import first_factor, signin
from ..engine.challenges import NEW_PASSWORD_REQUIRED, NOT_CONFIRMED, RESET_REQUIRED, Refused
from ..runtime import runtime
from ..store.models import User
from ..userpool import accounts
from ..userpool.attributes import label as attribute_label
from ..userpool.limits import Requester
from ..userpool.passwords import PasswordPolicy
from . import federation, flow, passkey_account
from . import mfa as mfa_step
from .forms import ConfirmForm, ForgotForm, LoginForm, NewPasswordForm, ResendForm, ResetForm, SignUpForm, form_errors
from .pools import pool_blueprint

bp = pool_blueprint("hosted")

INFO = {
    "confirmed": lambda: _("Your account is confirmed. Sign in to continue."),
    "reset": lambda: _("Your password has been changed. Sign in with your new password."),
    "sent": lambda: _("If the account exists, a code has been sent to its email address."),
    "reauth": lambda: _("Sign in again to add a passkey."),
}
SIGNUP_ATTRIBUTES = {"email": "email", "phone_number": "tel", "birthdate": "date"}


@bp.get("/oauth2/authorize")
def authorize_endpoint() -> Response:
    req, client = authorize.parse(g.db_session, g.pool, request.args)
    g.client_id = client.id
    if req.identity_provider == "COGNITO" and "COGNITO" not in client.identity_providers:
        raise req.fail("invalid_request", "The requested identity provider is not enabled for this client.")
    upstream = federation.route(req, client)
    sign_in = federation.usable_sign_in(flow.current_sign_in(), req, client, upstream)
    if req.prompt == "none" or not flow.needs_login(req, sign_in):
        if sign_in is None or flow.needs_login(req, sign_in):
            raise req.fail("login_required", "The user is not signed in.")
        return flow.redirect_to_app(req, sign_in)
    txn = flow.start_login(req)
    if upstream is not None:
        return federation.start_upstream(flow.load_login(txn), upstream)
    return redirect(url_for("hosted.login", txn=txn, lang=req.lang), code=302)


@bp.get("/login")
def login() -> Response | str:
    if "txn" not in request.args:  # Cognito's /login takes the authorize parameters directly
        req, client = authorize.parse(g.db_session, g.pool, request.args)
        sign_in = federation.usable_sign_in(flow.current_sign_in(), req, client, None)
        if not flow.needs_login(req, sign_in):
            return flow.redirect_to_app(req, sign_in)  # type: ignore[arg-type]
        return redirect(url_for("hosted.login", txn=flow.start_login(req), lang=req.lang))
    data = flow.load_login(request.args["txn"])
    return login_page(data, info=_info())


@bp.post("/login")
def login_post() -> Response | tuple[str, int]:
    form = LoginForm()
    data = flow.load_login(form.txn.data)
    if "COGNITO" not in federation.client_providers(data):
        raise HostedError(federation.MESSAGES["not_enabled"](), 403)
    if not form.validate():
        return login_page(data, form.username.data or "", error=form_errors(form)), 400
    try:
        step = signin.password(mfa_step.env(data), flow.fresh(data), form.username.data, form.password.data)
    except (SignInFailed, Throttled, TriggerFailed) as exc:  # (a trigger's refusal shows its message)
        keep_refusal(exc)
        return login_page(data, form.username.data, error=exc.message), exc.status
    except Refused as exc:
        return refused(data, exc)
    return mfa_step.render(step)


def _after_password(data: dict[str, Any], user: User) -> Response:
    try:
        return mfa_step.render(signin.after_password(mfa_step.env(data), data, user))
    except Refused as exc:
        return refused(data, exc)


def refused(data: dict[str, Any], exc: Refused) -> Response:
    """A sign-in the engine refused after the first factor (a password, a passkey, a code):
    an unconfirmed sign-up goes on to its confirmation, a required reset to its code (both
    sent again), anything else ends."""
    progress = exc.progress or data
    user = g.db_session.get(User, progress.get("user_id") or 0)
    if user is None or exc.reason not in (NOT_CONFIRMED, RESET_REQUIRED):
        raise HostedError(exc.message, 403)
    rt = runtime()
    if exc.reason == NOT_CONFIRMED:  # the password is proven: confirming will finish the sign-in
        with suppress(LimitExceeded):  # past the limits, the code sent last stays good
            accounts.resend_confirmation(g.db_session, rt.state, rt.sender, g.pool, user.username, _requester())
        flow.save_login({**progress, "password_proven_for": user.username})
        return redirect(url_for("hosted.confirm_user", txn=data["txn"], username=user.username))
    with suppress(LimitExceeded):
        accounts.forgot_password(g.db_session, rt.state, rt.sender, g.pool, user.username, _requester())
    return redirect(url_for("hosted.confirm_forgot_password", txn=data["txn"], username=user.username))


@bp.route("/newPassword", methods=["GET", "POST"])
def new_password() -> Response | str | tuple[str, int]:
    form = NewPasswordForm()
    data, user = flow.load_step(NEW_PASSWORD_REQUIRED)
    error: list[str] | None = None
    if request.method == "POST":
        try:
            if not form.validate():
                raise FormInvalid(form_errors(form))
            step = signin.answer_new_password(mfa_step.env(data), data, user, form.password.data,
                                              form.password_confirm.data)
        except FormInvalid as exc:
            error = exc.errors
        except Refused as exc:
            raise HostedError(exc.message, 403) from None
        else:
            return mfa_step.render(step)
    page = render_template("new_password.html", action=url_for("hosted.new_password"), txn=data["txn"],
                           username=user.username, error=error, policy=_policy())
    return (page, 400) if error else page


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Response | str | tuple[str, int]:
    data = _txn_for_page()
    if not g.pool.self_signup:
        raise HostedError(_("Sign-up is not available for this application."), status=403)
    errors: list[str] = []
    status = 400
    values: dict[str, str] = {}
    if request.method == "POST":
        form = SignUpForm()
        values = {name: request.form.get(name, "")[:2048] for name, _t in _signup_attributes()}
        values["username"] = (form.username.data or "")[:128]
        try:
            if not form.validate():
                raise FormInvalid(form_errors(form))
            rt = runtime()
            attrs = {k: v for k, v in values.items() if k != "username"}
            client = rt.config.client(g.db_session, g.pool.id, data["request"]["client_id"])
            signed = accounts.sign_up(g.db_session, rt.state, rt.sender, g.pool, form.username.data,
                                      form.password.data, attrs, _requester(), client)
            g.db_session.commit()
            if signed.confirmed:  # by the PreSignUp trigger: a password is all it takes (taken names alike)
                return redirect(url_for("hosted.login", txn=data["txn"], info="confirmed"))
            if signed.user is not None:  # confirming it finishes the sign-in (no such thing for a taken name)
                flow.save_login(flow.proven(data, signed.user, password_proven_for=signed.user.username))
            return redirect(url_for("hosted.confirm_user", txn=data["txn"], username=form.username.data.strip().lower()))
        except (FormInvalid, LimitExceeded) as exc:
            keep_refusal(exc)
            errors, status = _problems(exc), exc.status
    flow.browser_id()
    attributes = [{"name": n, "label": attribute_label(n), "type": t, "required": n in g.pool.required_attributes}
                  for n, t in _signup_attributes()]
    page = render_template("signup.html", action=url_for("hosted.signup"), txn=data["txn"], values=values,
                           attributes=attributes, policy=_policy(), errors=errors,
                           login_url=url_for("hosted.login", txn=data["txn"]))
    return (page, status) if errors else page


@bp.route("/confirmUser", methods=["GET", "POST"])
def confirm_user() -> Response | str | tuple[str, int]:
    data = _txn_for_page()
    form = ConfirmForm()
    username = (form.username.data if request.method == "POST" else request.args.get("username", ""))[:128]
    error: list[str] | None = None
    status = 400
    if request.method == "POST":
        try:
            if not form.validate():
                raise FormInvalid(form_errors(form))
            user = accounts.confirm_sign_up(g.db_session, runtime().state, g.pool, form.username.data, form.code.data,
                                            _requester())
            g.db_session.commit()
            if data.get("password_proven_for") == user.username:
                return mfa_step.begin(data, user)
            return redirect(url_for("hosted.login", txn=data["txn"], info="confirmed"))
        except (FormInvalid, LimitExceeded) as exc:
            keep_refusal(exc)
            error, status = _problems(exc), exc.status
    page = _confirm_page(data, username, error=error, info=_info())
    return (page, status) if error else page


@bp.post("/resendCode")
def resend_code() -> Response | str | tuple[str, int]:
    data = _txn_for_page()
    form = ResendForm()
    if not form.validate():
        return _confirm_page(data, form.username.data or "", error=form_errors(form)), 400
    rt = runtime()
    try:
        accounts.resend_confirmation(g.db_session, rt.state, rt.sender, g.pool, form.username.data, _requester())
    except LimitExceeded as exc:
        return _confirm_page(data, form.username.data, error=_problems(exc)), exc.status
    g.db_session.commit()
    return _confirm_page(data, form.username.data, info=INFO["sent"]())


@bp.route("/forgotPassword", methods=["GET", "POST"])
def forgot_password() -> Response | str | tuple[str, int]:
    data = _txn_for_page()
    form = ForgotForm()
    error: list[str] | None = None
    status = 400
    if request.method == "POST":
        try:
            if not form.validate():
                raise FormInvalid(form_errors(form))
            rt = runtime()
            accounts.forgot_password(g.db_session, rt.state, rt.sender, g.pool, form.username.data, _requester())
            g.db_session.commit()
            return redirect(url_for("hosted.confirm_forgot_password", txn=data["txn"],
                                    username=form.username.data.strip().lower(), info="sent"))
        except (FormInvalid, LimitExceeded) as exc:
            error, status = _problems(exc), exc.status
    page = render_template("forgot.html", action=url_for("hosted.forgot_password"), txn=data["txn"], error=error,
                           info=None, login_url=url_for("hosted.login", txn=data["txn"]))
    return (page, status) if error else page


@bp.route("/confirmForgotPassword", methods=["GET", "POST"])
def confirm_forgot_password() -> Response | str | tuple[str, int]:
    data = _txn_for_page()
    form = ResetForm()
    username = (form.username.data if request.method == "POST" else request.args.get("username", "")) or ""
    error: list[str] | None = None
    status = 400
    if request.method == "POST":
        try:
            if not form.validate():
                raise FormInvalid(form_errors(form))
            accounts.confirm_forgot_password(g.db_session, runtime().state, g.pool, form.username.data,
                                             form.code.data, form.password.data, form.password_confirm.data,
                                             _requester())
            g.db_session.commit()
            return redirect(url_for("hosted.login", txn=data["txn"], info="reset"))
        except (FormInvalid, LimitExceeded) as exc:
            keep_refusal(exc)
            error, status = _problems(exc), exc.status
    page = render_template("confirm_forgot.html", action=url_for("hosted.confirm_forgot_password"), txn=data["txn"],
                           username=username[:128], error=error, info=_info(), policy=_policy(),
                           login_url=url_for("hosted.login", txn=data["txn"]))
    return (page, status) if error else page


def _txn_for_page() -> dict[str, Any]:
    """The login transaction of a hosted page, started from authorize parameters if needed."""
    txn = request.form.get("txn") if request.method == "POST" else request.args.get("txn")
    if txn is None and request.method == "GET" and "client_id" in request.args:
        req, _client = authorize.parse(g.db_session, g.pool, request.args)
        txn = flow.start_login(req)
    data = flow.load_login(txn)
    if "COGNITO" not in federation.client_providers(data):  # password accounts are not for this app
        raise HostedError(federation.MESSAGES["not_enabled"](), 403)
    return data


def passkeys_offered(data: dict[str, Any]) -> bool:
    """Whether the sign-in page offers passkeys: the pool allows them as a first factor and
    the app signs in with the pool's own accounts."""
    return passkey_account.allowed() and "COGNITO" in federation.client_providers(data)


def code_factors(data: dict[str, Any]) -> list[str]:
    """The one-time codes (by email, by text message) the sign-in page offers instead of the
    password: those the pool allows first, for an app that signs in with the pool's own
    accounts, unless the sign-in is for managing second factors (it asks for the password)."""
    if "COGNITO" not in federation.client_providers(data) or data.get("purpose") == "mfa_settings":
        return []
    return first_factor.code_factors(g.pool)


def login_page(data: dict[str, Any], username: str = "", error: Any = None, info: str | None = None) -> str:
    """The sign-in page: the password form when the app allows COGNITO (with the passkey
    offered where the pool allows it), one button per other IdP it allows, and an email
    field when one of them is routed by domain."""
    flow.browser_id()
    txn = data["txn"]
    allowed = federation.client_providers(data)
    upstreams = [idp for idp in runtime().config.idps(g.db_session, g.pool.id) if idp.name in allowed
                 and data.get("purpose") is None]  # second factors are managed by password users only
    password = "COGNITO" in allowed
    return render_template(
        "login.html", action=url_for("hosted.login_post"), txn=txn, username=username[:256], error=error, info=info,
        signup_url=url_for("hosted.signup", txn=txn) if g.pool.self_signup and password else None,
        forgot_url=url_for("hosted.forgot_password", txn=txn), password=password,
        providers=[{"name": idp.name, "type": idp.type, "url": url_for("federation.federate", txn=txn, idp=idp.name)}
                   for idp in upstreams],
        email_action=url_for("federation.federate_by_email") if any(idp.identifiers for idp in upstreams) else None,
        passkey={"options_url": url_for("passkey_login.options"), "action": url_for("passkey_login.answer")}
        if passkeys_offered(data) else None,
        code_factors=code_factors(data) if password else [], code_action=url_for("code_login.send"),
    )


def _confirm_page(data: dict[str, Any], username: str, error: Any = None, info: str | None = None) -> str:
    return render_template("confirm.html", action=url_for("hosted.confirm_user"), txn=data["txn"],
                           username=username[:128], error=error, info=info,
                           resend_action=url_for("hosted.resend_code"))


def _info() -> str | None:
    message = INFO.get(request.args.get("info", ""))
    return message() if message else None


def _policy() -> dict[str, Any]:
    return PasswordPolicy.from_dict(g.pool.password_policy).as_dict()


def _signup_attributes() -> list[tuple[str, str]]:
    names = list(dict.fromkeys(["email", *g.pool.required_attributes]))
    return [(n, SIGNUP_ATTRIBUTES.get(n, "text")) for n in names]


def _client_ip() -> str:
    return request.remote_addr or "-"


def _requester() -> Requester:
    return Requester(_client_ip(), mfa_step.device_key())


def _problems(exc: FormInvalid | LimitExceeded) -> list[str]:
    return exc.errors if isinstance(exc, FormInvalid) else [exc.message]


def keep_refusal(exc: Exception) -> None:
    """A refused form's audit records stay; what a step wrote before a trigger failed it
    goes, as at the API (:func:`broker.api.protocol._run`; the trigger's own audit event is
    kept by :mod:`broker.triggers.journal`)."""
    if isinstance(exc, TriggerFailed):
        g.db_session.rollback()
    else:
        g.db_session.commit()
