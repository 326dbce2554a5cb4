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
  whose sign counter did not go up (a cloned authenticator) is refused and audited. The
  options never list a user's credentials: every passkey here is discoverable.
- **Origins**: only the exact origins of :func:`relying_party` (:mod:`.passkey_origins`).
- **Bad answers**: whatever the browser's JSON holds is a refusal, never an error of ours.
  The library is imported when a ceremony runs, not when the CLI or the app starts.

    options = begin_registration(session, state, pool, user, settings)
    passkey = finish_registration(session, state, pool, user, browser_json, settings)
"""
from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput, LimitExceeded, ResourceMissing, SignInFailed
from ..i18n import gettext as _
from ..store.models import AppClient, Passkey, User, UserPool, utcnow
from ..store.state import Keys, StateStore
from . import audit, passkey_origins

if TYPE_CHECKING:  # (the WebAuthn library loads only when a ceremony runs)
    from webauthn.helpers.structs import PublicKeyCredentialDescriptor

    from ..config import Settings

#: How long a ceremony's challenge is good for (also the browser's ``timeout`` hint).
CEREMONY_SECONDS = 300
#: Cognito's limit of passkeys per user.
MAX_PER_USER = 20
MAX_NAME = 256
#: The longest credential id kept (WebAuthn: at most 1023 bytes).
MAX_ID_BYTES = 1023
REQUIRED, PREFERRED = "required", "preferred"


class PasskeyRefused(InvalidInput):
    """A registration the rules refuse; ``aws_type`` is Cognito's exception for it."""

    aws_type = "WebAuthnCredentialNotSupportedException"


class PasskeysNotEnabled(PasskeyRefused):
    aws_type = "WebAuthnNotEnabledException"


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
    ``UserVerification``) and Cognate's own: an allow-list of authenticator models
    (``AllowedAaguids``) and of further origins (``AllowedOrigins``)."""

    relying_party_id: str | None = None
    user_verification: str = REQUIRED
    allowed_aaguids: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()

    @classmethod
    def of(cls, pool: UserPool) -> Config:
        raw = pool.web_authn or {}
        return cls(raw.get("RelyingPartyId") or None, raw.get("UserVerification") or REQUIRED,
                   tuple(raw.get("AllowedAaguids") or ()), tuple(raw.get("AllowedOrigins") or ()))

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"UserVerification": self.user_verification}
        if self.relying_party_id:
            out["RelyingPartyId"] = self.relying_party_id
        if self.allowed_aaguids:
            out["AllowedAaguids"] = list(self.allowed_aaguids)
        if self.allowed_origins:
            out["AllowedOrigins"] = list(self.allowed_origins)
        return out


def parse_config(given: dict[str, Any], current: Config | None = None, roots: bool = False) -> dict[str, Any]:
    """The stored form of passkey settings given by an admin (CLI or API), over ``current``;
    InvalidInput names what is wrong. An allow-list of models needs attestation ``roots``
    (without them any client could name any AAGUID)."""
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
    if aaguids and not roots and "AllowedAaguids" in given:
        raise InvalidInput(_("Allowing only some authenticator models needs the attestation roots setting "
                             "(BROKER_PASSKEY_ATTESTATION_ROOTS)."))
    try:
        origins = passkey_origins.parse_allowed(given.get("AllowedOrigins", list(base.allowed_origins)), rp_id)
    except ValueError as exc:
        raise InvalidInput(_("Allowed passkey origins: %(problem)s.", problem=str(exc))) from None
    return Config(rp_id or None, verification, tuple(aaguids), tuple(origins)).describe()


def _domain(value: str) -> bool:
    labels = value.split(".")
    return 0 < len(value) <= 253 and value == value.lower() and all(
        0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii()
        and not label.startswith("-") and not label.endswith("-") for label in labels) \
        and not labels[-1].isdigit()


def enabled(pool: UserPool) -> bool:
    """Whether users of ``pool`` may register passkeys and sign in with them: its sign-in
    policy allows ``WEB_AUTHN``."""
    return "WEB_AUTHN" in (pool.first_factors or ())


def relying_party_id(pool: UserPool, settings: Settings) -> str:
    """The pool's relying-party id: as set, else the first custom domain mapped to the
    pool, else the host of the server's base URL."""
    configured = Config.of(pool).relying_party_id
    if configured:
        return configured
    mapped = sorted(host for host, target in settings.domains.items() if target == pool.id)
    return (mapped[0] if mapped else urlsplit(settings.base_url).hostname or "localhost").lower()


@dataclass(frozen=True)
class RelyingParty:
    """The pool's relying-party id and the exact origins whose pages may use its passkeys
    (:mod:`.passkey_origins`)."""

    id: str
    origins: frozenset[str]

    def allows(self, origin: object) -> bool:
        return isinstance(origin, str) and origin in self.origins

    def as_progress(self) -> dict[str, Any]:
        """The form a sign-in keeps until the answer."""
        return {"rp_id": self.id, "origins": sorted(self.origins)}

    @classmethod
    def from_progress(cls, progress: dict[str, Any]) -> RelyingParty | None:
        rp_id, origins = progress.get("rp_id"), progress.get("origins")
        if not isinstance(rp_id, str) or not isinstance(origins, list):
            return None
        return cls(rp_id, frozenset(o for o in origins if isinstance(o, str)))


def relying_party(session: Session, pool: UserPool, settings: Settings) -> RelyingParty:
    """``pool``'s relying party at this server: its id, and as origins the server's own, the
    pool's custom domains, its app clients' callback URLs' and its ``AllowedOrigins``."""
    rp_id = relying_party_id(pool, settings)
    callbacks = [url for urls in session.scalars(select(AppClient.callback_urls).where(AppClient.pool_id == pool.id))
                 for url in urls or ()]
    domains = [f"https://{host}" for host, target in settings.domains.items() if target == pool.id]
    return RelyingParty(rp_id, passkey_origins.allowed(
        rp_id, [settings.base_url, *domains, *callbacks, *Config.of(pool).allowed_origins]))


def user_handle(user: User) -> bytes:
    """The WebAuthn user handle: the 16 bytes of the user's ``sub`` (no name, no address)."""
    return uuid.UUID(user.sub).bytes


def for_user(session: Session, user: User) -> list[Passkey]:
    return list(session.scalars(select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)))


def begin_registration(session: Session, state: StateStore, pool: UserPool, user: User,
                       settings: Settings) -> dict[str, Any]:
    """``PublicKeyCredentialCreationOptions`` in their JSON form for ``user``; the challenge
    waits for :func:`finish_registration` (a new one replaces it).
    :class:`PasskeysNotEnabled` in a pool that does not allow passkeys."""
    import webauthn
    from webauthn.helpers import bytes_to_base64url, options_to_json
    from webauthn.helpers.structs import (AttestationConveyancePreference, AuthenticatorSelectionCriteria,
                                          ResidentKeyRequirement, UserVerificationRequirement)

    _require_enabled(pool)
    existing = for_user(session, user)
    if len(existing) >= MAX_PER_USER:
        raise LimitExceeded(_("You have as many passkeys as you may have. Delete one first."))
    config, rp_id = Config.of(pool), relying_party_id(pool, settings)
    options = webauthn.generate_registration_options(
        rp_id=rp_id, rp_name=pool.name, user_id=user_handle(user), user_name=user.username,
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


def _require_enabled(pool: UserPool) -> None:
    if not enabled(pool):
        raise PasskeysNotEnabled(_("Passkeys are not enabled in this user pool: its sign-in policy does not "
                                   "allow WEB_AUTHN."))


def finish_registration(session: Session, state: StateStore, pool: UserPool, user: User,
                        credential: object, settings: Settings, name: str | None = None,
                        ip: str | None = None) -> Passkey:
    """Keep the credential the browser made for the waiting challenge (used up either way).
    Raises a :class:`PasskeyRefused` that says why."""
    _require_enabled(pool)
    rp = relying_party(session, pool, settings)
    waiting = state.take(Keys.passkey_registration(pool.id, user.sub))
    if not waiting or waiting.get("rp_id") != rp.id:
        raise ChallengeNotFound(_("No passkey registration is waiting. Start again."))
    verified, parsed = _verify_registration(pool, credential, rp, str(waiting["challenge"]), settings)
    from webauthn.helpers import bytes_to_base64url

    credential_id = bytes_to_base64url(verified.credential_id)
    taken = session.scalar(select(Passkey.id).where(Passkey.pool_id == pool.id, Passkey.credential_id == credential_id))
    if taken is not None or len(for_user(session, user)) >= MAX_PER_USER:
        raise PasskeyRefused(_("This passkey cannot be added."))
    row = Passkey(pool_id=pool.id, user_id=user.id, credential_id=credential_id,
                  public_key=verified.credential_public_key, sign_count=verified.sign_count, relying_party_id=rp.id,
                  aaguid=verified.aaguid, transports=[str(t.value) for t in parsed.response.transports or ()],
                  attachment=parsed.authenticator_attachment.value if parsed.authenticator_attachment else None,
                  backup_eligible=verified.credential_device_type.value == "multi_device",
                  backed_up=verified.credential_backed_up, name=(name or "")[:MAX_NAME] or None, created_at=utcnow())
    session.add(row)
    session.flush()
    audit.record(session, pool.id, "PasskeyAdded", audit.PASS, user=user, ip=ip, credential=credential_id[:16])
    return row


def _verify_registration(pool: UserPool, credential: object, rp: RelyingParty, challenge: str,
                         settings: Settings) -> tuple[Any, Any]:
    """The library's verified registration and the parsed credential, or :class:`PasskeyRefused`
    (whatever the browser's JSON holds: the library's own errors included)."""
    import webauthn
    from webauthn.helpers import parse_attestation_object, parse_client_data_json, parse_registration_credential_json
    from webauthn.helpers.structs import AttestationFormat

    config = Config.of(pool)
    try:
        parsed = parse_registration_credential_json(credential)  # type: ignore[arg-type]
        origin = parse_client_data_json(parsed.response.client_data_json).origin
        made = parse_attestation_object(parsed.response.attestation_object)
    except Exception:  # noqa: BLE001 (any shape of bad JSON is a refusal, never a 500)
        raise PasskeyRefused(_("The passkey's answer could not be read.")) from None
    if made.auth_data.rp_id_hash != hashlib.sha256(rp.id.encode()).digest():
        raise RelyingPartyMismatch(_("The passkey was made for another site."))
    if not rp.allows(origin):
        raise OriginNotAllowed(_("Passkeys of this site cannot be made from this page."))
    if config.allowed_aaguids and (made.fmt == AttestationFormat.NONE or not made.att_stmt.x5c):
        raise PasskeyRefused(_("This kind of passkey is not allowed here."))
    roots = _attestation_roots(settings) if config.allowed_aaguids else {}
    try:
        verified = webauthn.verify_registration_response(
            credential=parsed, expected_challenge=webauthn.base64url_to_bytes(challenge),
            expected_rp_id=rp.id, expected_origin=str(origin),
            require_user_verification=config.user_verification == REQUIRED, pem_root_certs_bytes_by_fmt=roots)
    except Exception:  # noqa: BLE001 (the library's checks, and its surprises, refuse alike)
        raise PasskeyRefused(_("The passkey's answer could not be verified.")) from None
    if config.allowed_aaguids and verified.aaguid not in config.allowed_aaguids:
        raise PasskeyRefused(_("This kind of passkey is not allowed here."))
    if len(verified.credential_id) > MAX_ID_BYTES:
        raise PasskeyRefused(_("This passkey cannot be added."))
    return verified, parsed


def _attestation_roots(settings: Settings) -> dict[Any, list[bytes]]:
    """The operator's roots for each attestation format that carries a chain; a pool with an
    allow-list and no roots (set before they were removed) accepts no passkey."""
    from webauthn.helpers.structs import AttestationFormat

    path = settings.passkey_attestation_roots
    roots = passkey_origins.load_roots(path) if path else []
    if not roots:
        raise PasskeyRefused(_("This kind of passkey is not allowed here."))
    return {AttestationFormat(f): roots for f in passkey_origins.CHAIN_FORMATS}


def authentication_options(pool: UserPool, rp_id: str) -> tuple[dict[str, Any], str]:
    """``PublicKeyCredentialRequestOptions`` in their JSON form and their challenge (base64url),
    which the caller keeps with its sign-in. No ``allowCredentials``, even for a named user:
    every passkey here is discoverable, and listing a user's would tell who has which."""
    import webauthn
    from webauthn.helpers import bytes_to_base64url, options_to_json
    from webauthn.helpers.structs import UserVerificationRequirement

    options = webauthn.generate_authentication_options(
        rp_id=rp_id, timeout=CEREMONY_SECONDS * 1000,
        user_verification=UserVerificationRequirement(Config.of(pool).user_verification))
    return json.loads(options_to_json(options)), bytes_to_base64url(options.challenge)


def finish_authentication(session: Session, pool: UserPool, credential: object, challenge: str,
                          rp: RelyingParty, user: User | None = None, ip: str | None = None) -> tuple[User, Passkey, bool]:
    """The user a passkey's answer to ``challenge`` signs in (``user``: only theirs), with
    the passkey's counter and backup state brought up to date. :class:`PasskeySignInFailed`
    otherwise; a counter that did not go up is audited as a clone (``Block``)."""
    import webauthn
    from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json, parse_client_data_json

    refused = PasskeySignInFailed(_("The passkey could not sign you in."))
    try:
        parsed = parse_authentication_credential_json(credential)  # type: ignore[arg-type]
        origin = parse_client_data_json(parsed.response.client_data_json).origin
    except Exception:  # noqa: BLE001 (any shape of bad JSON is a refusal, never a 500)
        raise refused from None
    if len(parsed.raw_id) > MAX_ID_BYTES or not rp.allows(origin):
        raise refused
    row = session.scalar(select(Passkey).where(Passkey.pool_id == pool.id,
                                               Passkey.credential_id == bytes_to_base64url(parsed.raw_id)))
    owner = session.get(User, row.user_id) if row is not None else None
    if row is None or owner is None or (user is not None and owner.id != user.id) or row.relying_party_id != rp.id \
            or (parsed.response.user_handle and parsed.response.user_handle != user_handle(owner)):
        raise refused
    try:
        verified = webauthn.verify_authentication_response(
            credential=parsed, expected_challenge=webauthn.base64url_to_bytes(challenge), expected_rp_id=rp.id,
            expected_origin=str(origin), credential_public_key=row.public_key, credential_current_sign_count=0,
            require_user_verification=Config.of(pool).user_verification == REQUIRED)
    except Exception:  # noqa: BLE001 (a bad signature, and any surprise of the library's, refuse alike)
        raise refused from None
    if (verified.new_sign_count or row.sign_count) and verified.new_sign_count <= row.sign_count:
        audit.record(session, pool.id, "SignIn", audit.BLOCK, user=owner, ip=ip, reason="passkey_counter",
                     credential=row.credential_id[:16])
        raise refused
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
    import webauthn
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    known = {t.value for t in AuthenticatorTransport}
    transports = [AuthenticatorTransport(t) for t in row.transports or () if t in known]
    return PublicKeyCredentialDescriptor(id=webauthn.base64url_to_bytes(row.credential_id), transports=transports or None)
