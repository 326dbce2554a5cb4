"""The rules a new password must pass beyond the pool's policy, and what setting one records.

- **Compromised passwords**: refused when the password, or the word it is built on, is in
  the lists that ship with ``zxcvbn`` (no network call): its 30,000 most common passwords of
  a 10-million-password breach corpus, plus the most frequent English words, first names and
  surnames. Attackers do not guess the list as it is but the list under rules (capitalised,
  leetspeak, a number, a year or a symbol added), and those rules are what a password policy
  makes users apply: ``Password1!``, ``Summer2024!`` and ``Admin@123`` meet every class rule.
  So the check undoes them first (:func:`candidates`): case, compatibility forms (NFKC), up to
  three leading and trailing symbols around at most four digits, a year or a ``1234…`` run,
  and leetspeak. NIST SP 800-63B §5.1.1.2 asks verifiers to check "passwords obtained from
  previous breach corpuses" and "commonly-used" ones.
- **History**: no reuse of the last N passwords (the pool's ``password_history``, Cognito's
  PasswordHistorySize), the current one included. Each set password leaves a
  :class:`PasswordHistory` row; only the newest N are kept.

    >>> is_compromised("Summer2024!"), is_compromised("correct-H0rse-battery-staple")
    (True, False)
"""
from __future__ import annotations

import functools
import re
import unicodedata

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from ..errors import PasswordReused
from ..i18n import gettext as _, ngettext
from ..store.models import PasswordHistory, User, UserPool
from . import srp_verifiers
from .passwords import PasswordPolicy, hash_password, verify_password
from .security import Security


#: How many of the most frequent entries of zxcvbn's other lists are base words too.
TOP_WORDS = {"english_wikipedia": 3000, "female_names": 1000, "male_names": 1000, "surnames": 1000}
#: Base words shorter than this count only when nothing was stripped around them.
MIN_BASE = 4
#: What rules put around a base word: symbols, then digits (up to four, a 19xx/20xx year or
#: a 123… run), then symbols; the prefix is shorter (``1Password``, ``!Password``).
_SUFFIX = re.compile(r"[\W_]{0,3}(?:\d{0,4}|(?:19|20)\d\d|1234567?8?9?0?)[\W_]{0,3}")
_PREFIX = re.compile(r"[\W_\d]{0,3}")
#: Leetspeak undone; ``1`` and ``!`` stand for ``i`` or ``l``, so both are tried.
_LEET = [str.maketrans({"0": "o", "1": letter, "!": letter, "3": "e", "4": "a", "@": "a", "$": "s", "5": "s",
                        "7": "t", "+": "t", "8": "b", "9": "g", "|": "l"}) for letter in "il"]


@functools.cache
def _common_passwords() -> frozenset[str]:
    """Built once per process, at the first check (not at import: a few MB in memory)."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    words = [p.lower() for p in FREQUENCY_LISTS["passwords"]]
    for name, count in TOP_WORDS.items():
        words.extend(w.lower() for w in FREQUENCY_LISTS[name][:count])
    return frozenset(words)


def candidates(password: str) -> set[str]:
    """The forms of ``password`` an attacker's rules would have started from: the whole
    password (case-folded, NFKC) and each base word left when a common prefix or suffix is
    stripped, each also with leetspeak undone."""
    folded = unicodedata.normalize("NFKC", password).casefold()
    starts = [n for n in range(min(3, len(folded)) + 1) if _PREFIX.fullmatch(folded[:n])]
    ends = [n for n in range(min(16, len(folded)) + 1) if _SUFFIX.fullmatch(folded[len(folded) - n:])]
    cores = {folded}
    for start in starts:
        for end in ends:
            core = folded[start:len(folded) - end]
            if len(core) >= MIN_BASE:
                cores.add(core)
    return cores | {core.translate(table) for core in cores for table in _LEET}


def is_compromised(password: str) -> bool:
    common = _common_passwords()
    return any(form in common for form in candidates(password))


def problems(pool: UserPool, password: str) -> list[str]:
    """Each rule ``password`` breaks that does not depend on the user: policy, then the list."""
    found = PasswordPolicy.from_dict(pool.password_policy).violations(password)
    if Security.of(pool.security).compromised_check and is_compromised(password):
        found.append(_("Password must not be a commonly used or compromised password."))
    return found


def check_reuse(pool: UserPool, user: User, password: str) -> None:
    """:class:`PasswordReused` when ``password`` is one of ``user``'s last N passwords."""
    keep = Security.of(pool.security).password_history
    if keep and any(verify_password(stored, password) for stored in _recent(user, keep)):
        raise PasswordReused([ngettext("Password must not be the same as your previous password.",
                                       "Password must not be one of your last %(num)s passwords.", keep)])


def set_password(session: Session, pool: UserPool, user: User, password: str) -> None:
    """Set a permanent password (the checks are the caller's) and remember it."""
    user.password_hash = hash_password(password)
    user.temp_password_expires_at = None
    remember(session, pool, user)
    srp_verifiers.remember(session, pool, user, password)


def remember(session: Session, pool: UserPool, user: User) -> None:
    """Record ``user``'s current password hash and keep only the pool's newest N."""
    keep = Security.of(pool.security).password_history
    if keep and user.password_hash:
        session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))
        session.flush()
    newest = select(PasswordHistory.id).where(PasswordHistory.user_id == user.id) \
        .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc()).limit(keep)
    session.execute(delete(PasswordHistory).where(PasswordHistory.user_id == user.id,
                                                  PasswordHistory.id.not_in(newest.scalar_subquery())))


def _recent(user: User, keep: int) -> list[str]:
    """The current hash and the remembered ones, newest first, at most ``keep``."""
    session = object_session(user)
    rows: list[str] = []
    if session is not None and user.id is not None:
        stmt = select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id) \
            .order_by(PasswordHistory.created_at.desc(), PasswordHistory.id.desc()).limit(keep)
        rows = list(session.scalars(stmt))
    return list(dict.fromkeys([h for h in [user.password_hash, *rows] if h]))[:keep]
