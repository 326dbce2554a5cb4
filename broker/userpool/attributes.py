"""User attributes: OIDC standard claims plus ``custom:*`` (Cognito's schema).

An email attribute holds one address, checked by a real RFC 5321/5322 parser
(``email-validator``, without DNS look-ups): no lists (``a@x.example,b@y.example``), display
names or angle brackets, quoted local parts, IP literals or reserved domains, any of which
would make a mail to the user reach someone else as well.
"""
from __future__ import annotations

import re
from typing import Any

from email_validator import EmailNotValidError, validate_email

from ..errors import InvalidInput
from ..i18n import gettext as _

STANDARD = {
    "address", "birthdate", "email", "email_verified", "family_name", "gender", "given_name",
    "locale", "middle_name", "name", "nickname", "phone_number", "phone_number_verified",
    "picture", "preferred_username", "profile", "updated_at", "website", "zoneinfo",
}
CUSTOM = re.compile(r"^custom:[\w.-]{1,20}$")
PHONE = re.compile(r"^\+[1-9]\d{4,14}$")
MAX_VALUE = 2048


def check_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """Validated copy of ``attributes``; raises InvalidInput naming the first bad one."""
    checked: dict[str, str] = {}
    for name, value in attributes.items():
        check_name(name)
        value = str(value)
        if len(value) > MAX_VALUE:
            raise InvalidInput(_("%(name)s is too long.", name=label(name)))
        if any(ord(c) < 32 and c not in "\t\n" for c in value):
            raise InvalidInput(_("%(name)s contains characters that are not allowed.", name=label(name)))
        if name == "email":
            value = check_email(value)
        if name == "phone_number" and not PHONE.fullmatch(value):
            raise InvalidInput(_("Enter the phone number with its country code, e.g. +14325551212."))
        checked[name] = value
    return checked


def attribute_types(sub: str, attributes: dict[str, Any]) -> list[dict[str, str]]:
    """Cognito's ``AttributeType`` list: ``sub`` first, then each attribute by name, its
    value a string (``true``/``false`` for flags)."""
    return [{"Name": "sub", "Value": sub}] + [
        {"Name": name, "Value": str(value).lower() if isinstance(value, bool) else str(value)}
        for name, value in sorted(attributes.items())
    ]


def check_email(value: str) -> str:
    """The one address ``value`` holds, normalised (NFC, IDNA domain) and lower-cased as
    the pool stores addresses; :class:`InvalidInput` for anything else."""
    address = clean_email(value)
    if address is None:
        raise InvalidInput(_("Enter a valid email address."))
    return address


def clean_email(value: str) -> str | None:
    """``value`` as one valid address (see :func:`check_email`), or None."""
    try:
        found = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return found.normalized.lower()


def check_name(name: str) -> str:
    if name not in STANDARD and not CUSTOM.fullmatch(name):
        raise InvalidInput(f"unknown attribute {name!r}: use a standard OIDC name or custom:NAME")
    return name


def label(name: str) -> str:
    """The attribute's name as users read it, translated."""
    labels = {"email": _("Email"), "phone_number": _("Phone number"), "given_name": _("Given name"),
              "family_name": _("Family name"), "name": _("Name"), "birthdate": _("Birthdate")}
    return labels.get(name, name.removeprefix("custom:").replace("_", " ").capitalize())


def verified(attributes: dict[str, Any], name: str) -> bool:
    """Whether the user's ``email`` or ``phone_number`` is set and verified (codes go only
    to such an address)."""
    return bool(attributes.get(name)) and attributes.get(f"{name}_verified") in ("true", True)
