"""``broker`` commands for account security: pool security settings and message templates,
invitations, forced resets, unlocking, and the audit log. Registered on the groups of
:mod:`broker.cli` when it is imported; same rules (``--json``; bad input: one line, exit 2,
nothing written).
"""
from __future__ import annotations

from typing import Any

import click

from .cli import _emit, _pairs, _read, _settings, _store, cli, json_option, pool, user
from .config import Settings
from .oauth.issue import issuer
from .store.state import StateStore, open_state
from .triggers import settings as trigger_settings
from .errors import InvalidInput
from . import cli_passkeys
from .userpool import admin, admin_security, admin_users, attribute_changes, audit, messages, mfa, mfa_settings, \
    sign_in_policy
from .userpool.security import ACTIONS, LEVELS
from .userpool.senders import HttpSmsSender, Reporting, Sender, SmsSender, SmtpSender


def _sender(settings: Settings) -> Sender | None:
    """Only a real SMTP server delivers from the CLI; without one the admin sees the password."""
    return Reporting(SmtpSender(settings)) if settings.smtp_host else None


def _sms(settings: Settings) -> SmsSender | None:
    """Only a configured webhook delivers text messages from the CLI (never the log)."""
    return Reporting(HttpSmsSender(settings.sms_webhook_url, settings.sms_webhook_token)) if settings.sms_webhook_url \
        else None


def _state(settings: Settings) -> StateStore | None:
    """The server's Redis; None when the server keeps codes and counters in its own process."""
    return open_state(settings.redis_url) if settings.redis_url else None


def _describe(settings: Settings, p: Any) -> dict[str, Any]:
    return {"UserPool": {**admin_security.describe_pool(p), **sign_in_policy.describe(p),
                         "Issuer": issuer(settings.base_url, p.id)}}


# -- pools -----------------------------------------------------------------------------

@pool.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--mfa", type=click.Choice(admin.MFA), help="MFA: OFF, OPTIONAL or ON.")
@click.option("--lockout-threshold", type=int, help="Failed sign-ins in a row before a lockout (1-100).")
@click.option("--lockout-seconds", type=int, help="How long a lockout lasts (1-86400 s).")
@click.option("--password-history", type=int, help="Earlier passwords a new one may not repeat (0-24).")
@click.option("--compromised-check/--no-compromised-check", default=None,
              help="Refuse passwords found in the list of common and breached passwords.")
@click.option("--temp-password-days", type=int, help="Days a temporary password works (1-365).")
@click.option("--remember-devices-days", type=int, help="Days a remembered device may skip MFA (0-365).")
@click.option("--adaptive", multiple=True, metavar="LEVEL=ACTION",
              help=f"Risk level ({'/'.join(LEVELS)}) to action ({'/'.join(ACTIONS)}); repeat.")
@click.option("--link-by-email/--no-link-by-email", default=None,
              help="Link a first federated sign-in to the confirmed user with the same verified email.")
@click.option("--srp/--no-srp", "srp_enabled", default=None,
              help="Keep SRP verifiers of passwords (USER_SRP_AUTH); --no-srp stops making them.")
@click.option("--name", help="A new name for the pool.")
@click.option("--self-signup/--no-self-signup", default=None, help="Whether users may sign themselves up.")
@click.option("--trigger", multiple=True, metavar="NAME=TARGET",
              help="A trigger (PreSignUp, PreTokenGeneration, ...) and its target: python:package.module:function "
                   "or an http(s):// webhook; NAME= removes it. Repeat.")
@click.option("--pre-token-generation-version", type=click.Choice(trigger_settings.PRE_TOKEN_VERSIONS),
              help="PreTokenGeneration's event version (V2_0 can change access tokens and scopes).")
@cli_passkeys.pool_options
@json_option
def pool_update(pool_id: str, mfa: str | None, lockout_threshold: int | None, lockout_seconds: int | None,
                password_history: int | None, compromised_check: bool | None, temp_password_days: int | None,
                remember_devices_days: int | None, adaptive: tuple[str, ...], link_by_email: bool | None,
                srp_enabled: bool | None, name: str | None, self_signup: bool | None, trigger: tuple[str, ...],
                pre_token_generation_version: str | None, as_json: bool, **passkey: Any) -> None:
    """Change a pool's settings; those not given stay as they are.

    Message templates are set with `broker pool set-message`, the secret that signs webhook
    triggers' events is shown by `broker pool trigger-secret`."""
    policy = admin_security.parse_adaptive(adaptive)
    triggers = _pairs(trigger, "--trigger")
    changes = dict(mfa=mfa, adaptive=policy or None, lockout_threshold=lockout_threshold, lockout_seconds=lockout_seconds,
                   password_history=password_history, compromised_check=compromised_check,
                   temp_password_days=temp_password_days, remember_devices_days=remember_devices_days,
                   link_by_email=link_by_email, srp_enabled=srp_enabled, name=name, self_signup=self_signup)
    with _store() as (settings, session):
        other = cli_passkeys.update_pool(session, settings, pool_id, **passkey)
        if triggers or pre_token_generation_version:
            trigger_settings.set_triggers(session, admin.require_pool(session, pool_id), dict(triggers),
                                          pre_token_generation_version)
            other = True
        if any(v is not None for v in changes.values()) or not other:
            admin_security.update_pool(session, pool_id, **changes)  # type: ignore[arg-type]
        out = _describe(settings, admin.require_pool(session, pool_id))
    _emit(out, as_json)


@pool.command("trigger-secret")
@click.option("--pool", "pool_id", required=True)
@click.option("--rotate", is_flag=True, help="Make a new secret; the old one stops signing at once.")
@json_option
def pool_trigger_secret(pool_id: str, rotate: bool, as_json: bool) -> None:
    """The secret that signs the pool's webhook trigger events (X-Cognate-Signature)."""
    with _store() as (_s, session):
        secret = trigger_settings.secret(session, admin.require_pool(session, pool_id), rotate=rotate)
    _emit({"TriggerSecret": secret}, as_json)


@pool.command("set-mfa")
@click.option("--pool", "pool_id", required=True)
@click.option("--mfa", type=click.Choice(admin.MFA), required=True, help="MFA: OFF, OPTIONAL or ON.")
@click.option("--method", multiple=True, type=click.Choice(mfa_settings.FACTORS),
              help="A second factor users may choose (repeat); the others are no longer offered.")
@json_option
def pool_set_mfa(pool_id: str, mfa: str, method: tuple[str, ...], as_json: bool) -> None:
    """The pool's MFA configuration (Cognito's SetUserPoolMfaConfig)."""
    with _store() as (_s, session):
        p = admin_security.set_mfa_config(session, pool_id, mfa, list(method))
        out = {"UserPoolId": p.id, "MfaConfiguration": p.mfa, "Methods": p.mfa_methods}
    _emit(out, as_json)


@pool.command("describe")
@click.option("--pool", "pool_id", required=True)
@json_option
def pool_describe(pool_id: str, as_json: bool) -> None:
    """A pool's settings: MFA, password policy, security settings, message templates."""
    with _store() as (settings, session):
        out = _describe(settings, admin.require_pool(session, pool_id))
    _emit(out, as_json)


@pool.command("set-message")
@click.option("--pool", "pool_id", required=True)
@click.option("--kind", required=True, type=click.Choice(messages.KINDS),
              help="verification (sign-up and attribute-change code), reset (password-reset code) or invitation.")
@click.option("--subject", help="One line, at most 140 characters.")
@click.option("--text-file", type=click.Path(dir_okay=False), help="The plain-text body (UTF-8).")
@click.option("--html-file", type=click.Path(dir_okay=False), help="An HTML body, sent as an alternative.")
@click.option("--default", "use_default", is_flag=True, help="Go back to the built-in message.")
@json_option
def pool_set_message(pool_id: str, kind: str, subject: str | None, text_file: str | None, html_file: str | None,
                     use_default: bool, as_json: bool) -> None:
    """Set the message a pool sends (Cognito's custom message). Placeholders: {username}
    everywhere; {####}, the code, in verification and reset messages (required there);
    {password} (or {####}) and {days} in invitations, which need {username} and {password}.
    Values are HTML-escaped in the HTML body."""
    if use_default and (subject or text_file or html_file):
        raise click.UsageError("--default takes no --subject, --text-file or --html-file")
    if not use_default and not (subject and text_file):
        raise click.UsageError("give --subject and --text-file (and optionally --html-file), or --default")
    text, html = _read(text_file, "text file", False), _read(html_file, "HTML file", False)
    with _store() as (_s, session):
        p = admin_security.set_message(session, pool_id, kind, subject, text, html)
        out = {"UserPoolId": p.id, "Kind": kind, **messages.describe(p)[kind]}
    _emit(out, as_json)


# -- users -----------------------------------------------------------------------------

@user.command("resend-invitation")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_resend_invitation(pool_id: str, username: str, as_json: bool) -> None:
    """A new temporary password and invitation for a user who has not signed in yet
    (FORCE_CHANGE_PASSWORD), for instance after the first one expired."""
    settings = _settings()
    with _store() as (_s, session):
        invitation = admin_security.resend_invitation(session, _sender(settings), _state(settings), pool_id, username)
        out = _invitation(invitation)
    _emit(out, as_json)


def _invitation(invitation: admin_security.Invitation) -> dict[str, Any]:
    u, temporary = invitation.user, invitation.temporary
    out: dict[str, Any] = {"Username": u.username, "Sub": u.sub, "UserStatus": u.status}
    if temporary:
        out["InvitationSentTo"] = invitation.sent_to[0] if invitation.sent_to else None
        expires = u.temp_password_expires_at
        out["TemporaryPasswordExpires"] = expires.isoformat() if expires else None
        if not invitation.sent_to:  # nobody else will tell the user
            out["TemporaryPassword"] = temporary
    return out


@user.command("reset-password")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_reset_password(pool_id: str, username: str, as_json: bool) -> None:
    """Require a new password (RESET_REQUIRED): a reset code is emailed now, and the next
    sign-in leads to the page that takes it. The user is signed out everywhere at once."""
    settings = _settings()
    with _store() as (_s, session):
        u, to, revoked = admin_security.reset_password(session, _sender(settings), _state(settings), pool_id,
                                                       username)
        out = {"Username": u.username, "UserStatus": u.status, "CodeSentTo": to, "RevokedSessions": revoked}
    _emit(out, as_json)


@user.command("unlock")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_unlock(pool_id: str, username: str, as_json: bool) -> None:
    """End a lockout after failed sign-ins and reset the user's failure count."""
    settings = _settings()
    with _store() as (_s, session):
        u = admin_security.unlock(session, _state(settings), pool_id, username)
        out = {"Username": u.username, "Unlocked": True}
    _emit(out, as_json)


@user.command("update")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@click.option("--attribute", multiple=True, required=True, metavar="NAME=VALUE", help="An attribute to set (repeat).")
@json_option
def user_update(pool_id: str, username: str, attribute: tuple[str, ...], as_json: bool) -> None:
    """Change attributes (AdminUpdateUserAttributes). A new email or phone_number waits for
    verification: the old verified value stays until the code sent to the new one is
    entered (at the next sign-in, or with `broker user verify-attribute`)."""
    changes = _pairs(attribute, "--attribute")
    settings = _settings()
    with _store() as (_s, session):
        p = admin.require_pool(session, pool_id)
        u = admin.require_user(session, p.id, username)
        attribute_changes.update_attributes(session, _state(settings), _sender(settings), _sms(settings), p, u,
                                            changes)
        out = {"Username": u.username, "PendingVerification": attribute_changes.describe_pending(u)}
    _emit(out, as_json)


@user.command("verify-attribute")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@click.option("--attribute", "name", required=True, type=click.Choice(sorted(attribute_changes.VERIFIED_BY)))
@click.option("--code", required=True, help="The code sent to the new value.")
@json_option
def user_verify_attribute(pool_id: str, username: str, name: str, code: str, as_json: bool) -> None:
    """Verify a pending email or phone_number with the code sent to it (VerifyUserAttribute)."""
    settings = _settings()
    state = _state(settings)
    if state is None:
        raise InvalidInput("codes live in the server's own process (no REDIS_URL): verify at sign-in instead")
    with _store() as (_s, session):
        p = admin.require_pool(session, pool_id)
        u = admin.require_user(session, p.id, username)
        verified = attribute_changes.verify_attribute(session, state, p, u, name, code)
        out = {"Username": u.username, "Attribute": name, "Verified": verified}
    if not verified:  # after the block, so the failure stays in the audit log
        raise InvalidInput(f"invalid code for {name}, or no {name} change waits for verification")
    _emit(out, as_json)


@user.command("sign-out")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_sign_out(pool_id: str, username: str, as_json: bool) -> None:
    """Revoke all of a user's refresh tokens and the access tokens issued from them, and
    end the user's hosted sign-in sessions in every browser (Cognito's
    AdminUserGlobalSignOut, which leaves those sessions alone)."""
    with _store() as (_s, session):
        p, u = _pool_user(session, pool_id, username)
        out = {"Username": u.username, "RevokedSessions": admin_users.sign_out(session, p, u)}
    _emit(out, as_json)


@user.command("disable")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_disable(pool_id: str, username: str, as_json: bool) -> None:
    """No more sign-ins, by password or through any IdP; the user's refresh tokens and the
    access tokens issued from them are revoked, and hosted sign-in sessions end, so that
    enabling the user again brings none back (Cognito's AdminDisableUser)."""
    with _store() as (_s, session):
        p, u = _pool_user(session, pool_id, username)
        out = {"Username": u.username, "Enabled": False, "RevokedSessions": admin_users.disable(session, p, u)}
    _emit(out, as_json)


@user.command("enable")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_enable(pool_id: str, username: str, as_json: bool) -> None:
    """Sign-ins work again (Cognito's AdminEnableUser)."""
    with _store() as (_s, session):
        p, u = _pool_user(session, pool_id, username)
        admin_users.enable(session, p, u)
        out = {"Username": u.username, "Enabled": True}
    _emit(out, as_json)


@user.command("set-password")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--permanent", is_flag=True, help="The user signs in with it at once; else it is temporary.")
@json_option
def user_set_password(pool_id: str, username: str, password: str, permanent: bool, as_json: bool) -> None:
    """Set a user's password (Cognito's AdminSetUserPassword): permanent (the user is
    CONFIRMED) or temporary (a new one is chosen at the next sign-in)."""
    settings = _settings()
    with _store() as (_s, session):
        p, u = _pool_user(session, pool_id, username)
        admin_users.set_password(session, p, u, password, permanent, _state(settings))
        out = {"Username": u.username, "UserStatus": u.status}
    _emit(out, as_json)


@user.command("confirm")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_confirm(pool_id: str, username: str, as_json: bool) -> None:
    """Confirm a sign-up without its code (Cognito's AdminConfirmSignUp)."""
    with _store() as (_s, session):
        p, u = _pool_user(session, pool_id, username)
        admin_users.confirm(session, p, u)
        out = {"Username": u.username, "UserStatus": u.status}
    _emit(out, as_json)


@user.group("mfa")
def user_mfa() -> None:
    """A user's second factors (Cognito's AdminSetUserMFAPreference)."""


@user_mfa.command("set")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@click.option("--email-otp/--no-email-otp", default=None, help="Codes by email as a second factor.")
@click.option("--sms-otp/--no-sms-otp", default=None, help="Codes by text message as a second factor.")
@click.option("--preferred", type=click.Choice([mfa.TOTP, mfa.EMAIL_OTP, mfa.SMS_OTP]),
              help="The factor asked for first.")
@json_option
def user_mfa_set(pool_id: str, username: str, email_otp: bool | None, sms_otp: bool | None, preferred: str | None,
                 as_json: bool) -> None:
    """Turn codes by email or text message on or off and choose the preferred factor, with
    the rules of the user's own settings (a verified email, a phone number)."""
    wanted = {f: on for f, on in ((mfa.EMAIL_OTP, email_otp), (mfa.SMS_OTP, sms_otp)) if on is not None}
    with _store() as (_s, session):
        p, u = _pool_user(session, pool_id, username)
        row = mfa_settings.change(session, p, u, wanted, preferred, event="AdminSetUserMFAPreference")
        out = {"Username": u.username, "TOTP": row.totp_enabled, "EmailOTP": row.email_otp_enabled,
               "SmsOTP": row.sms_otp_enabled, "Preferred": row.preferred}
    _emit(out, as_json)


@user_mfa.command("reset")
@click.option("--pool", "pool_id", required=True)
@click.option("--username", required=True)
@json_option
def user_mfa_reset(pool_id: str, username: str, as_json: bool) -> None:
    """Remove every second factor and recovery code (the user enrols again if the pool requires MFA)."""
    with _store() as (_s, session):
        u = _pool_user(session, pool_id, username)[1]
        removed = mfa.reset(session, u)
        audit.record(session, pool_id, "AdminResetUserMFA", audit.PASS, user=u)
        out = {"Username": u.username, "Reset": removed}
    _emit(out, as_json)


def _pool_user(session: Any, pool_id: str, username: str) -> tuple[Any, Any]:
    """The pool and its user ``username`` (one line and exit 2 when either is missing)."""
    p = admin.require_pool(session, pool_id)
    return p, admin.require_user(session, p.id, username)


# -- audit log -------------------------------------------------------------------------

@cli.group()
def events() -> None:
    """The audit log: sign-ins, sign-ups, password changes, lockouts, admin changes."""


@events.command("list")
@click.option("--pool", "pool_id", required=True)
@click.option("--user", "username", help="Only this user's events.")
@click.option("--limit", type=click.IntRange(1, audit.MAX_LIMIT), default=100, show_default=True)
@json_option
def events_list(pool_id: str, username: str | None, limit: int, as_json: bool) -> None:
    """Events newest first, as {"Events": [...]}."""
    with _store() as (_s, session):
        admin.require_pool(session, pool_id)
        out = {"Events": [audit.describe(e) for e in audit.list_events(session, pool_id, username, limit)]}
    _emit(out, as_json)
