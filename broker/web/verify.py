"""/verifyAttribute: the sign-in step that asks for the code sent to a new email address or
phone number an admin set (:mod:`broker.userpool.attribute_changes`). It comes last, once
the user is authenticated; the user may skip it, and the old verified value stays.

Wired from :func:`broker.web.mfa.complete`, before it finishes:

    if verify.due(data, user):
        return verify.start(data, user)
"""
from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ..errors import HostedError
from ..i18n import gettext as _
from ..runtime import runtime
from ..store.models import User
from ..userpool import attribute_changes
from . import flow
from .forms import TxnForm, VerifyAttributeForm, form_errors
from .pools import pool_blueprint

bp = pool_blueprint("verify")
STEP = "verify_attribute"
ASKED = "pending_attribute"  # the transaction's note of the attribute this step asks for
HEADINGS = {"email": lambda: _("Verify your new email address"),
            "phone_number": lambda: _("Verify your new phone number")}


def needs_verification(user: User) -> str | None:
    """The attribute whose new value waits for the user's code, if any."""
    return next(iter(attribute_changes.pending(user)), None)


def due(data: dict[str, Any], user: User) -> bool:
    """Whether this sign-in still has to ask: a value waits, and this transaction has not
    asked yet (after "Skip for now", later steps of the same sign-in do not ask again)."""
    return needs_verification(user) is not None and ASKED not in data


def start(data: dict[str, Any], user: User) -> Response:
    """Make verification the transaction's step, send a fresh code to the new value, show the page."""
    name = needs_verification(user)
    if name is None:
        return _finish(data, user)
    flow.save_login({**data, "step": STEP, "user_id": user.id, ASKED: name})
    rt = runtime()
    attribute_changes.send_code(g.db_session, rt.state, rt.sender, rt.sms, g.pool, user, name)
    return redirect(url_for("verify.page", txn=data["txn"]))


@bp.route("/verifyAttribute", methods=["GET", "POST"])
def page() -> Response | str | tuple[str, int]:
    data, user = flow.load_step(STEP)
    name = data[ASKED]
    error: list[str] | None = None
    if request.method == "POST":
        form = VerifyAttributeForm()
        error = form_errors(form) if not form.validate() else None
        if error is None:
            if attribute_changes.verify_attribute(g.db_session, runtime().state, g.pool, user, name, form.code.data):
                g.db_session.commit()
                return _finish(data, user)
            g.db_session.commit()  # keep the failure in the audit log
            error = [_("Invalid verification code provided, please try again.")]
    address = attribute_changes.pending(user).get(name, "")
    html = render_template("verify_attribute.html", action=url_for("verify.page"), skip_action=url_for("verify.skip"),
                           txn=data["txn"], attribute=name, address=address, heading=HEADINGS[name](), error=error)
    return (html, 400) if error else html


@bp.post("/verifyAttribute/skip")
def skip() -> Response:
    """Sign in without verifying: the old value stays, the new one still waits."""
    data, user = flow.load_step(STEP)
    if not TxnForm().validate():
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    return _finish(data, user)


def _finish(data: dict[str, Any], user: User) -> Response:
    from .mfa import complete  # mfa wires this step in: a top-level import would be a cycle

    return complete(data, user)
