"""Passkeys: WebAuthn credentials registered by a signed-in user and used to sign in, with
one set of rules for both doors (the hosted account and sign-in pages, and the JSON API's
StartWebAuthnRegistration / CompleteWebAuthnRegistration and ``USER_AUTH``'s ``WEB_AUTHN``
challenge). The ceremonies' cryptography (CBOR, COSE keys, attestation statements) is
Duo's ``webauthn`` library; what is kept and checked around it is here.
https://www.w3.org/TR/webauthn-3/#sctn-registering-a-new-credential and
https://www.w3.org/TR/webauthn-3/#sctn-verifying-assertion

- **Registration** (:func:`begin_registration`, :func:`finish_registration`): the challenge
  waits in the state store for one answer; the credential is discoverable (username-less
  sign-in finds it) and, by default, proves user verification. The pool may allow only
  some authenticator models (AAGUIDs): then attestation is asked for and checked.
- **Sign-in** (:func:`authentication_options`, :func:`finish_authentication`): the caller
  keeps the challenge with its own sign-in (an API ``Session``, a hosted login); a passkey
  with a sign counter that went back (a cloned authenticator) is refused and audited.
- **Origins**: a browser accepts a relying-party id that is its page's host or a parent
  domain of it; so does :func:`origin_allowed` (https, or http on localhost as browsers
  allow), so an app on ``app.example.com`` registers passkeys for ``example.com``.

    options = begin_registration(state, pool, user, "example.com", "Example")
    passkey = finish_registration(session, state, pool, user, browser_json, "example.com")
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import webauthn
from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn.helpers import exceptions as wa_errors
from webauthn.helpers import (bytes_to_base64url, options_to_json, parse_attestation_object,
                              parse_authentication_credential_json, parse_client_data_json,
                              parse_registration_credential_json)
from webauthn.helpers.structs import (AttestationConveyancePreference, AuthenticatorSelectionCriteria,
                                      AuthenticatorTransport, PublicKeyCredentialDescriptor,
                                      ResidentKeyRequirement, UserVerificationRequirement)

from ..errors import InvalidInput, LimitExceeded, ResourceMissing, SignInFailed
from ..i18n import gettext as _
from ..store.models import Passkey, User, UserPool, utcnow
from ..store.state import Keys, StateStore
from ..urls import LOOPBACK
from . import audit

#: How long a ceremony's challenge is good for (also the browser's ``timeout`` hint).
CEREMONY_SECONDS = 300
#: Cognito's limit of passkeys per user.
MAX_PER_USER = 20
MAX_NAME = 256
REQUIRED, PREFERRED = "required", "preferred"


class PasskeyRefused(InvalidInput):
    """A registration the rules refuse; ``aws_type`` is Cognito's exception for it."""

    aws_type = "WebAuthnCredentialNotSupportedException"


class ChallengeNotFound(PasskeyRefused):
    aws_type = "WebAuthnChallengeNotFoundException"


class RelyingPartyMismatch(PasskeyRefused):
    aws_type = "WebAuthnRelyingPartyMismatchException"


class OriginNotAllowed(PasskeyRefused):
    aws_type = "WebAuthnOriginNotAllowedException"


class PasskeySignInFailed(SignInFailed):
    """A passkey that does not sign the user in: unknown, another user's, a bad signature,
    a stale counter. Which of them is never told."""


@dataclass(frozen=True)
class Config:
    """A pool's passkey settings: Cognito's ``WebAuthnConfiguration`` (``RelyingPartyId``,
    ``UserVerification``) and Cognate's allow-list of authenticator models."""

    relying_party_id: str | None = None
    user_verification: str = REQUIRED
    allowed_aaguids: tuple[str, ...] = ()

    @classmethod
    def of(cls, pool: UserPool) -> Config:
        raw = pool.web_authn or {}
        return cls(raw.get("RelyingPartyId") or None, raw.get("UserVerification") or REQUIRED,
                   tuple(raw.get("AllowedAaguids") or ()))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"UserVerification": self.user_verification}
        if self.relying_party_id:
            out["RelyingPartyId"] = self.relying_party_id
        if self.allowed_aaguids:
            out["AllowedAaguids"] = list(self.allowed_aaguids)
        return out


def parse_config(given: dict[str, Any], current: Config | None = None) -> dict[str, Any]:
    """The stored form of passkey settings given by an admin (CLI or API), over ``current``;
    InvalidInput names what is wrong."""
    base = current or Config()
    rp_id = given.get("RelyingPartyId", base.relying_party_id)
    verification = given.get("UserVerification", base.user_verification)
    aaguids = given.get("AllowedAaguids", list(base.allowed_aaguids))
    if rp_id is not None and not _domain(str(rp_id)):
        raise InvalidInput(_("The relying party id must be a domain name, such as example.com."))
    if verification not in (REQUIRED, PREFERRED):
        raise InvalidInput(_("User verification must be required or preferred."))
    try:
        aaguids = [str(uuid.UUID(str(a))) for a in aaguids or ()]
    except ValueError:
        raise InvalidInput(_("Each allowed AAGUID must be a UUID.")) from None
    return Config(rp_id or None, verification, tuple(aaguids)).describe()


def _domain(value: str) -> bool:
    labels = value.split(".")
    return 0 < len(value) <= 253 and value == value.lower() and all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        and not label.startswith("-") and not label.endswith("-") for label in labels) \
        and not labels[-1].isdigit()


def relying_party_id(pool: UserPool, base_url: str, domains: dict[str, str]) -> str:
    """The pool's relying-party id: as set, else the first custom domain mapped to the
    pool, else the host of the server's base URL."""
    configured = Config.of(pool).relying_party_id
    if configured:
        return configured
    mapped = sorted(host for host, target in domains.items() if target == pool.id)
    return (mapped[0] if mapped else urlsplit(base_url).hostname or "localhost").lower()


def origin_allowed(origin: str, rp_id: str) -> bool:
    """Whether a page at ``origin`` may use credentials of ``rp_id``: the browser's own rule
    (its host is the id or below it) over https, or http on localhost."""
    try:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.path or parts.query or parts.fragment or parts.username:
        return False
    secure = parts.scheme == "https" or (parts.scheme == "http" and (host in LOOPBACK or host.endswith(".localhost")))
    return secure and (host == rp_id or host.endswith("." + rp_id))


def user_handle(user: User) -> bytes:
    """The WebAuthn user handle: the 16 bytes of the user's ``sub`` (no name, no address)."""
    return uuid.UUID(user.sub).bytes


def for_user(session: Session, user: User) -> list[Passkey]:
    return list(session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


def begin_registration(state: StateStore, pool: UserPool, user: User, rp_id: str, rp_name: str,
                       existing: list[Passkey]) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` in their JSON form for ``user``; the challenge
    waits for :func:`finish_registration` (a new one replaces it)."""
    if len(existing) >= MAX_PER_USER:
        raise LimitExceeded(_("You have as many passkeys as you may have. Delete one first."))
    config = Config.of(pool)
    options = webauthn.generate_registration_options(
        rp_id=rp_id, rp_name=rp_name, user_id=user_handle(user), user_name=user.username,
        user_display_name=str(user.attributes.get("email") or user.username), timeout=CEREMONY_SECONDS * 1000,
        attestation=AttestationConveyancePreference.DIRECT if config.allowed_aaguids
        else AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, require_resident_key=True,
            user_verification=UserVerificationRequirement(config.user_verification)),
        exclude_credentials=[_descriptor(p) for p in existing])
    state.put(Keys.passkey_registration(pool.id, user.sub),
              {"challenge": bytes_to_base64url(options.challenge), "rp_id": rp_id}, CEREMONY_SECONDS)
    return json.loads(options_to_json(options))


def finish_registration(session: Session, state: StateStore, pool: UserPool, user: User,
                        credential: str | dict[str, Any], rp_id: str, name: str | None = None,
                        ip: str | None = None) -> Passkey:
    """Keep the credential the browser made for the waiting challenge (used up either way).
    Raises a :class:`PasskeyRefused` that says why."""
    waiting = state.take(Keys.passkey_registration(pool.id, user.sub))
    if not waiting or waiting.get("rp_id") != rp_id:
        raise ChallengeNotFound(_("No passkey registration is waiting. Start again."))
    config = Config.of(pool)
    try:
        parsed = parse_registration_credential_json(credential)
        origin = parse_client_data_json(parsed.response.client_data_json).origin
        made = parse_attestation_object(parsed.response.attestation_object)
    except (wa_errors.WebAuthnException, ValueError, TypeError, KeyError):
        raise PasskeyRefused(_("The passkey's answer could not be read.")) from None
    if made.auth_data.rp_id_hash != hashlib.sha256(rp_id.encode()).digest():
        raise RelyingPartyMismatch(_("The passkey was made for another site."))
    if not origin_allowed(origin, rp_id):
        raise OriginNotAllowed(_("Passkeys of this site cannot be made from this page."))
    try:
        verified = webauthn.verify_registration_response(
            credential=parsed, expected_challenge=webauthn.base64url_to_bytes(waiting["challenge"]),
            expected_rp_id=rp_id, expected_origin=origin, require_user_verification=config.user_verification == REQUIRED)
    except wa_errors.WebAuthnException:
        raise PasskeyRefused(_("The passkey's answer could not be verified.")) from None
    if config.allowed_aaguids and (verified.fmt.value == "none" or verified.aaguid not in config.allowed_aaguids):
        raise PasskeyRefused(_("This kind of passkey is not allowed here."))
    credential_id = bytes_to_base64url(verified.credential_id)
    taken = session.scalar(select(Passkey.id).where(Passkey.pool_id == pool.id, Passkey.credential_id == credential_id))
    if taken is not None or len(for_user(session, user)) >= MAX_PER_USER:
        raise PasskeyRefused(_("This passkey cannot be added."))
    row = Passkey(pool_id=pool.id, user_id=user.id, credential_id=credential_id,
                  public_key=verified.credential_public_key, sign_count=verified.sign_count, relying_party_id=rp_id,
                  aaguid=verified.aaguid, transports=[str(t.value) for t in parsed.response.transports or ()],
                  attachment=parsed.authenticator_attachment.value if parsed.authenticator_attachment else None,
                  backup_eligible=verified.credential_device_type.value == "multi_device",
                  backed_up=verified.credential_backed_up, name=(name or "")[:MAX_NAME] or None, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, pool.id, "PasskeyAdded", audit.PASS, user=user, ip=ip, credential=credential_id[:16])
    return row


def authentication_options(pool: UserPool, rp_id: str, passkeys: list[Passkey] | None) -> tuple[dict[str, Any], str]:
    """``PublicKeyCredentialRequestOptions`` in their JSON form and their challenge (base64url),
    which the caller keeps with its sign-in. ``passkeys`` None: username-less (the browser
    offers its discoverable credentials); else the user's, so that only they are offered."""
    options = webauthn.generate_authentication_options(
        rp_id=rp_id, timeout=CEREMONY_SECONDS * 1000,
        allow_credentials=[_descriptor(p) for p in passkeys or ()] if passkeys is not None else None,
        user_verification=UserVerificationRequirement(Config.of(pool).user_verification))
    return json.loads(options_to_json(options)), bytes_to_base64url(options.challenge)


def finish_authentication(session: Session, pool: UserPool, credential: str | dict[str, Any], challenge: str,
                          rp_id: str, user: User | None = None, ip: str | None = None) -> tuple[User, Passkey, bool]:
    """The user a passkey's answer to ``challenge`` signs in (``user``: only theirs), with
    the passkey's counter and backup state brought up to date. :class:`PasskeySignInFailed`
    otherwise; a counter that went back is audited as a clone (``Block``)."""
    refused = PasskeySignInFailed(_("The passkey could not sign you in."))
    try:
        parsed = parse_authentication_credential_json(credential)
        origin = parse_client_data_json(parsed.response.client_data_json).origin
    except (wa_errors.WebAuthnException, ValueError, TypeError, KeyError):
        raise refused from None
    row = session.scalar(select(Passkey).where(Passkey.pool_id == pool.id,
                                               Passkey.credential_id == bytes_to_base64url(parsed.raw_id)))
    owner = session.get(User, row.user_id) if row is not None else None
    if row is None or owner is None or (user is not None and owner.id != user.id) or row.relying_party_id != rp_id \
            or (parsed.response.user_handle and parsed.response.user_handle != user_handle(owner)) \
            or not origin_allowed(origin, rp_id):
        raise refused
    try:
        verified = webauthn.verify_authentication_response(
            credential=parsed, expected_challenge=webauthn.base64url_to_bytes(challenge), expected_rp_id=rp_id,
            expected_origin=origin, credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count,
            require_user_verification=Config.of(pool).user_verification == REQUIRED)
    except wa_errors.WebAuthnException as exc:
        if "sign count" in str(exc):
            audit.record(session, pool.id, "SignIn", audit.BLOCK, user=owner, ip=ip, reason="passkey_counter",
                         credential=row.credential_id[:16])
        raise refused from None
    row.sign_count, row.backed_up, row.last_used_at = verified.new_sign_count, verified.credential_backed_up, utcnow()
    return owner, row, verified.user_verified


def describe(row: Passkey) -> dict[str, Any]:
    """Cognito's ``WebAuthnCredentialDescription``."""
    out: dict[str, Any] = {"CredentialId": row.credential_id, "FriendlyCredentialName": row.name or "",
                           "RelyingPartyId": row.relying_party_id, "AuthenticatorTransports": list(row.transports or []),
                           "CreatedAt": row.created_at}
    if row.attachment:
        out["AuthenticatorAttachment"] = row.attachment
    return out


def find(session: Session, user: User, credential_id: str) -> Passkey:
    row = session.scalar(select(Passkey).where(Passkey.user_id == user.id, Passkey.credential_id == credential_id))
    if row is None:
        raise ResourceMissing(_("No such passkey."))
    return row


def rename(session: Session, user: User, credential_id: str, name: str) -> Passkey:
    row = find(session, user, credential_id)
    row.name = name.strip()[:MAX_NAME] or None
    return row


def delete(session: Session, pool: UserPool, user: User, credential_id: str, ip: str | None = None,
           by_admin: bool = False) -> None:
    row = find(session, user, credential_id)
    session.delete(row)
    audit.record(session, pool.id, "PasskeyDeleted", audit.PASS, user=user, ip=ip,
                 credential=credential_id[:16], **({"by": "admin"} if by_admin else {}))


def _descriptor(row: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [t for t in map(_transport, row.transports or ()) if t is not None]
    return PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(row.credential_id), transports=transports or None)


def _transport(value: str) -> AuthenticatorTransport | None:
    try:
        return AuthenticatorTransport(value)
    except ValueError:
        return None
