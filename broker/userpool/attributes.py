"""User attributes: OIDC standard claims plus ``custom:*`` (Cognito's schema)."""
from __future__ import annotations

import re

from ..errors import InvalidInput
from ..i18n import gettext as _

STANDARD = {
    "address", "birthdate", "email", "email_verified", "family_name", "gender", "given_name",
    "locale", "middle_name", "name", "nickname", "phone_number", "phone_number_verified",
    "picture", "preferred_username", "profile", "updated_at", "website", "zoneinfo",
}
CUSTOM = re.compile(r"^custom:[\w.-]{1,20}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s.]{1,63}$")
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
        if name == "email" and not EMAIL.fullmatch(value):
            raise InvalidInput(_("Enter a valid email address."))
        if name == "phone_number" and not PHONE.fullmatch(value):
            raise InvalidInput(_("Enter the phone number with its country code, e.g. +14325551212."))
        checked[name] = value.lower() if name == "email" else value
    return checked


def check_name(name: str) -> str:
    if name not in STANDARD and not CUSTOM.fullmatch(name):
        raise InvalidInput(f"unknown attribute {name!r}: use a standard OIDC name or custom:NAME")
    return name


def label(name: str) -> str:
    """The attribute's name as users read it, translated."""
    labels = {"email": _("Email"), "phone_number": _("Phone number"), "given_name": _("Given name"),
              "family_name": _("Family name"), "name": _("Name"), "birthdate": _("Birthdate")}
    return labels.get(name, name.removeprefix("custom:").replace("_", " ").capitalize())
