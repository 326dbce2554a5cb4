"""Hosted UI forms (Flask-WTF: CSRF on every one). Lengths are bounded here; the rules
of the pool (password policy, attributes) are checked in :mod:`broker.userpool`."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Regexp

from ..errors import HostedError
from ..i18n import gettext as _
from ..i18n import lazy_gettext as _l

FIELD = 256


class _Txn(FlaskForm):
    txn = HiddenField(validators=[Length(max=64)])


TxnForm = _Txn


class MfaForm(_Txn):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=32)])


class LoginForm(_Txn):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=FIELD)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=FIELD)])


class PasskeyAnswerForm(_Txn):
    """A WebAuthn credential in its JSON form (``PublicKeyCredential.toJSON()``): an
    assertion is well under 16 KiB; a registration with attestation stays within 64 KiB."""

    credential = HiddenField(validators=[Length(max=65536)])


class PasskeyForm(_Txn):
    """A passkey of the user's, and a name for it (to add, rename or delete)."""

    credential_id = HiddenField(validators=[Length(max=1400)])
    name = StringField(_l("Passkey name"), validators=[Length(max=256)])


class CodeSignInForm(_Txn):
    """A username, and the way a one-time code should go to it (a first factor)."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=FIELD)])
    factor = HiddenField(validators=[DataRequired(), Length(max=16)])


class FederateForm(_Txn):
    email = StringField(_l("Corporate email"), validators=[DataRequired(), Length(max=FIELD)])


class SignUpForm(_Txn):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=128)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=FIELD)])


class ConfirmForm(_Txn):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=128)])
    code = StringField(_l("Code"), validators=[DataRequired(), Regexp(r"^\s*\d{6}\s*$", message=_l("Enter the 6-digit code."))])


class VerifyAttributeForm(_Txn):
    code = StringField(_l("Verification code"),
                       validators=[DataRequired(), Regexp(r"^\s*\d{6}\s*$", message=_l("Enter the 6-digit code."))])


class ResendForm(_Txn):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=128)])


class ForgotForm(_Txn):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=128)])


class ResetForm(_Txn):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=128)])
    code = StringField(_l("Code"), validators=[DataRequired(), Regexp(r"^\s*\d{6}\s*$", message=_l("Enter the 6-digit code."))])
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=FIELD)])
    password_confirm = PasswordField(_l("Confirm password"), validators=[DataRequired(), Length(max=FIELD)])


class NewPasswordForm(_Txn):
    password = PasswordField(_l("New password"), validators=[DataRequired(), Length(max=FIELD)])
    password_confirm = PasswordField(_l("Confirm password"), validators=[DataRequired(), Length(max=FIELD)])


def problems(form: FlaskForm) -> list[str]:
    """What is wrong with a posted form, one readable line each (:func:`form_errors`); a
    missing or wrong CSRF token ends the request with the error page instead."""
    if form.validate():
        return []
    if "csrf_token" in form.errors:
        raise HostedError(_("The form has expired or was not sent from this page. Go back, reload and try again."))
    return form_errors(form)


def form_errors(form: FlaskForm) -> list[str]:
    """Each field problem as one readable line, CSRF first."""
    lines = []
    for name, problems in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        lines.extend(_("%(field)s: %(problem)s", field=label, problem=p) if name != "csrf_token" else str(p)
                     for p in problems)
    return lines
