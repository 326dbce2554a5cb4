"""Signing in with a passkey on the hosted sign-in page, username-less: the page asks for
request options bound to its login transaction (the browser offers its passkeys in the
username field's autofill, WebAuthn's conditional mediation, or on the "Sign in with a
passkey" button), and posts the browser's answer back as a form, which the sign-in engine
checks (:func:`broker.engine.first_factor.answer_passkey`) before the sign-in goes on like
any other (a code for the app, or the account page it was started for).
https://www.w3.org/TR/webauthn-3/#sctn-getAssertion and
https://w3c.github.io/webappsec-credential-management/#dom-credentialmediationrequirement-conditional

Only the WebAuthn call needs JavaScript (``static/js/passkeys.js``); both requests carry the
page's CSRF token. Each set of options holds one challenge, good for one answer.
"""
from __future__ import annotations

from typing import Any

from flask import g
from werkzeug.wrappers import Response

from ..engine import first_factor
from ..engine.challenges import Refused
from ..errors import HostedError, SignInFailed, TriggerFailed
from ..i18n import gettext as _
from ..runtime import runtime
from ..store.state import Keys
from ..userpool import passkeys
from . import flow, hosted
from . import mfa as mfa_step
from .forms import PasskeyAnswerForm, TxnForm, problems
from .pools import pool_blueprint

bp = pool_blueprint("passkey_login")


def _transaction(form: TxnForm) -> dict[str, Any]:
    """The login transaction the form names, sent with this page's CSRF token (a field too
    long is left to the caller: it is no answer)."""
    data = flow.load_login(form.txn.data)
    problems(form)
    if not hosted.passkeys_offered(data):
        raise HostedError(_("Passkeys are not available for this application."), 403)
    return data


@bp.post("/login/passkey/options")
def options() -> Response:
    """Request options for any of this site's passkeys (username-less); their challenge
    waits beside the login transaction (a new one replaces it), which stays as it is."""
    data = _transaction(TxnForm())
    rp = passkeys.relying_party(g.db_session, g.pool, runtime().settings)
    step = first_factor.passkey_challenge(mfa_step.env(data), flow.fresh(data), rp)
    runtime().state.put(Keys.passkey_sign_in(data["txn"]), {"webauthn": step.progress["webauthn"], **rp.as_progress()},
                        passkeys.CEREMONY_SECONDS)
    return Response(step.parameters["CREDENTIAL_REQUEST_OPTIONS"], mimetype="application/json")


@bp.post("/login/passkey")
def answer() -> Response | tuple[str, int]:
    """The browser's answer (``PublicKeyCredential.toJSON()``) to the waiting challenge, taken
    at once (one answer each, however many are sent together); then the sign-in goes on
    as after a password."""
    form = PasskeyAnswerForm()
    data = _transaction(form)
    waiting = runtime().state.take(Keys.passkey_sign_in(data["txn"]))
    if not waiting or not form.credential.data or form.errors:
        return hosted.login_page(data, error=_("The passkey could not sign you in.")), 400
    progress = {**flow.fresh(data), **{k: waiting.get(k) for k in ("webauthn", "rp_id", "origins")}}
    try:
        step = first_factor.answer_passkey(mfa_step.env(progress), progress, form.credential.data)
    except (SignInFailed, TriggerFailed) as exc:
        hosted.keep_refusal(exc)
        return hosted.login_page(data, error=exc.message), exc.status
    except Refused as exc:
        return hosted.refused(data, exc)
    return mfa_step.render(step)
