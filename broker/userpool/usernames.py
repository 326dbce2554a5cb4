"""Usernames: one canonical form, and no look-alikes of other names.

A username is stored and looked up NFKC-folded and lower-cased
(:func:`~broker.store.models.canonical_username`), so full-width ``ａｌｉｃｅ`` signs up, signs
in and is found as ``alice``. Two more kinds of look-alike are refused, following Unicode's
security mechanisms (UTS #39 §5):

- **mixed scripts**: ``аlice`` with a Cyrillic ``а`` is Latin and Cyrillic at once. Letters
  of one script are allowed, plus the mixes UTS #39's "Highly Restrictive" level allows
  (Latin with Han and the Japanese kana, with Han and Bopomofo, or with Han and Hangul);
  digits and ``. _ @ + = , -`` belong to every script.
- **whole-script look-alikes of Latin names**: ``асе`` in Cyrillic alone reads as ``ace``,
  and ``alıce`` with a dotless ``ı`` as ``alice``. A name whose every non-ASCII letter has an
  ASCII homoglyph in Unicode's confusables data is refused.

Neither check looks at other users: the answer does not depend on who exists (no
enumeration) and no stored name needs a second, "skeleton" column. The pool's namespace
that people read and that attackers copy is the ASCII one, and both checks keep every
name outside it from passing for one inside it. Look-alikes within ASCII (``l`` and ``1``,
``rn`` and ``m``) stay allowed, as in Cognito and Keycloak: refusing them would refuse
``user1`` next to ``userl``.

    >>> check_username("ＡＬＩＣＥ")
    'alice'
"""
from __future__ import annotations

import functools
import re

from ..errors import InvalidInput
from ..i18n import gettext as _
from ..store.models import canonical_username

USERNAME = re.compile(r"^[\w.@+=,-]{1,128}$")
#: Script mixes allowed in one name (UTS #39 §5.2, Highly Restrictive).
ALLOWED_MIXES = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)


def check_username(username: str) -> str:
    """The canonical form of ``username``; :class:`InvalidInput` when it is not a valid
    name or could be mistaken for another."""
    name = canonical_username(username)
    if not USERNAME.fullmatch(name):
        raise InvalidInput(_("The username must have 1 to 128 letters, digits or . _ @ + = , -"))
    if name.isascii():
        return name
    if _mixes_scripts(name) or _looks_like_ascii(name):
        raise InvalidInput(_("The username must not use letters that can be mistaken for others."))
    return name


def _mixes_scripts(name: str) -> bool:
    from confusable_homoglyphs import categories

    scripts = categories.unique_aliases(name) - {"COMMON"}
    return len(scripts) > 1 and not any(scripts <= mix for mix in ALLOWED_MIXES)


def _looks_like_ascii(name: str) -> bool:
    """Every non-ASCII character of ``name`` has an ASCII homoglyph."""
    return all(_ascii_homoglyph(char) for char in set(name) if not char.isascii())


@functools.cache
def _ascii_homoglyph(char: str) -> bool:
    from confusable_homoglyphs import confusables

    return any(len(glyph["c"]) == 1 and glyph["c"].isascii() for glyph in confusables.confusables_data.get(char, []))
