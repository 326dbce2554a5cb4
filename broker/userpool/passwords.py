"""Password hashing (Argon2id at OWASP parameters) and the pool's password policy.

Hashes imported from elsewhere verify too and are upgraded to Argon2id at the next
successful sign-in: Argon2 with other parameters, bcrypt, PBKDF2, scrypt and Firebase's
scrypt, in the formats :mod:`.hash_formats` lists.
See https://cheatsheetseries.owasp.org/cheatsheets/Password_Storage_Cheat_Sheet.html
"""
from __future__ import annotations

import functools
import math
import os
import string
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..i18n import lazy_gettext as _l
from . import hash_formats

T = TypeVar("T")

#: OWASP: Argon2id, m=19 MiB, t=2, p=1.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16)
MAX_PASSWORD_LENGTH = 256
#: Cognito's special characters, plus space.
SYMBOLS = set("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


#: Threads of a process that hash (the development server's, the CLI's; a gunicorn worker
#: hashes on its share of the CPUs, :func:`share_cpus`). Each keeps the memory of its last
#: hash (glibc holds Argon2's 19 MiB block in the thread's arena for the next one), so a
#: process holds at most this many blocks however many threads serve requests; more than
#: its CPUs would add no speed (the hash releases the GIL, and the request waits for it
#: either way).
HASHING_THREADS = 2


class _Hashing:
    """The threads that run every hash and check of this process, started in the process
    that uses them (a forked worker starts its own)."""

    def __init__(self) -> None:
        self.size = HASHING_THREADS
        self._pool: tuple[int, ThreadPoolExecutor] | None = None
        self._lock = threading.Lock()
        self._here = threading.local()  # set on the hashing threads: work asked there runs there

    def run(self, work: Callable[..., T], *args: Any) -> T:
        if getattr(self._here, "hashing", False):
            return work(*args)
        pool = self._pool
        if pool is None or pool[0] != os.getpid():
            with self._lock:
                if self._pool is None or self._pool[0] != os.getpid():
                    self._pool = (os.getpid(), ThreadPoolExecutor(self.size, thread_name_prefix="cognate-hash",
                                                                  initializer=self._mark))
                pool = self._pool
        return pool[1].submit(work, *args).result()

    def resize(self, size: int) -> None:
        """Hash on ``size`` threads from now on (the threads of another size stop once idle)."""
        with self._lock:
            if size != self.size and self._pool is not None:
                self._pool[1].shutdown(wait=False)
                self._pool = None
            self.size = size

    def _mark(self) -> None:
        self._here.hashing = True


_hashing = _Hashing()


def share_cpus(workers: int, cpus: int) -> None:
    """This process is one of ``workers`` processes serving on ``cpus`` CPUs (a gunicorn
    worker, before its first hash): it hashes on ceil(cpus / workers) threads, so that the
    workers together hash on every CPU and hold no more Argon2 blocks than that needs. The
    deployed default of 2 × CPUs + 1 workers hashes on one thread each."""
    _hashing.resize(math.ceil(max(1, cpus) / max(1, workers)))


def hash_password(password: str) -> str:
    return _hashing.run(HASHER.hash, password)


def verify_password(stored: str | None, password: str) -> bool:
    """Constant-work check of ``password`` against any supported hash format."""
    return _hashing.run(_verify, stored, password)


def _verify(stored: str | None, password: str) -> bool:
    if not stored:
        _burn(password)
        return False
    if stored.startswith("$argon2"):
        try:
            return HASHER.verify(stored, password)
        except (VerificationError, InvalidHashError, ValueError):  # ValueError: non-ASCII in the hash
            return False
    return hash_formats.verify(stored, password)


def needs_rehash(stored: str) -> bool:
    if not stored.startswith("$argon2id$"):
        return True
    try:
        return HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash("cognate-dummy-password")


def _burn(password: str) -> None:
    """Spend the time of a real check so unknown users cannot be told apart by timing."""
    try:
        HASHER.verify(_dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        pass


@dataclass(frozen=True)
class PasswordPolicy:
    """Cognito's password policy; defaults are Cognito's defaults."""

    min_length: int = 8
    require_lowercase: bool = True
    require_uppercase: bool = True
    require_numbers: bool = True
    require_symbols: bool = True

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> PasswordPolicy:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in (data or {}).items() if k in fields})

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def violations(self, password: str) -> list[str]:
        """Each rule ``password`` breaks, as a message naming the rule."""
        problems = []
        if len(password) < self.min_length:
            problems.append(_l("Password must have at least %(n)s characters.", n=self.min_length))
        if len(password) > MAX_PASSWORD_LENGTH:
            problems.append(_l("Password must have at most %(n)s characters.", n=MAX_PASSWORD_LENGTH))
        if self.require_lowercase and not any(c in string.ascii_lowercase for c in password):
            problems.append(_l("Password must contain a lowercase letter."))
        if self.require_uppercase and not any(c in string.ascii_uppercase for c in password):
            problems.append(_l("Password must contain an uppercase letter."))
        if self.require_numbers and not any(c in string.digits for c in password):
            problems.append(_l("Password must contain a number."))
        if self.require_symbols and not any(c in SYMBOLS for c in password):
            problems.append(_l("Password must contain a symbol."))
        return [str(p) for p in problems]
