from __future__ import annotations

import base64
import hashlib

import pytest
from argon2 import PasswordHasher

from broker.userpool.passwords import PasswordPolicy, hash_password, needs_rehash, verify_password


def test_argon2id_at_owasp_parameters():
    stored = hash_password("Secret-123")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(stored, "Secret-123") and not verify_password(stored, "secret-123")
    assert not needs_rehash(stored)


def test_weaker_argon2_verifies_and_asks_for_rehash():
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert verify_password(weak, "pw") and needs_rehash(weak)


def _django(password: str, salt: str = "s4lt", rounds: int = 1000) -> str:
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), rounds)
    return f"pbkdf2_sha256${rounds}${salt}${base64.b64encode(digest).decode()}"


def _passlib(password: str, salt: bytes = b"0123456789abcdef", rounds: int = 1000) -> str:
    ab64 = lambda b: base64.b64encode(b).decode().rstrip("=").replace("+", ".")  # noqa: E731
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, rounds)
    return f"$pbkdf2-sha256${rounds}${ab64(salt)}${ab64(digest)}"


@pytest.mark.parametrize("make", [_django, _passlib])
def test_imported_pbkdf2_hashes_verify_and_need_upgrade(make):
    stored = make("Imported-1")
    assert verify_password(stored, "Imported-1")
    assert not verify_password(stored, "Imported-2")
    assert needs_rehash(stored)


def test_unknown_or_missing_hash_never_verifies():
    assert not verify_password(None, "x")
    assert not verify_password("md5$abc", "x")


def test_policy_names_each_broken_rule():
    policy = PasswordPolicy()
    assert policy.violations("Abcdef1!") == []
    problems = policy.violations("abc")
    assert any("8 characters" in p for p in problems)
    assert any("uppercase" in p for p in problems) and any("number" in p for p in problems)
    assert any("symbol" in p for p in problems)
    assert PasswordPolicy(require_symbols=False).violations("Abcdefg1") == []


def test_hashes_run_on_a_few_threads_whatever_the_number_of_callers(monkeypatch):
    """However many request threads sign users in at once, Argon2id runs on at most
    HASHING_THREADS threads of the process (each keeps its last 19 MiB block): the
    memory of a worker stays bounded."""
    from concurrent.futures import ThreadPoolExecutor
    import threading

    from broker.userpool import passwords

    seen: set[str] = set()
    real = passwords.HASHER

    class Recording:
        def hash(self, password: str) -> str:
            seen.add(threading.current_thread().name)
            return real.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            seen.add(threading.current_thread().name)
            return real.verify(stored, password)

    stored = hash_password("Corr3ct-Horse!")
    monkeypatch.setattr(passwords, "HASHER", Recording())
    with ThreadPoolExecutor(8) as callers:
        checks = list(callers.map(lambda i: verify_password(stored, "Corr3ct-Horse!" if i % 2 else "wrong"), range(16)))
        made = list(callers.map(hash_password, ["a-Passw0rd!"] * 8))
    assert checks == [i % 2 == 1 for i in range(16)]
    assert all(real.verify(h, "a-Passw0rd!") for h in made)
    assert seen and len(seen) <= passwords.HASHING_THREADS
    assert all(name.startswith("cognate-hash") for name in seen)


def test_a_worker_hashes_on_its_share_of_the_cpus(monkeypatch):
    """One of five workers on two CPUs hashes on one thread (its one 19 MiB block); the one
    worker of four CPUs, on four at once; a process that hashed already changes its threads."""
    from concurrent.futures import ThreadPoolExecutor
    import threading

    from broker import serving
    from broker.userpool import passwords

    stored = hash_password("Corr3ct-Horse!")
    real = passwords.HASHER

    def run(workers: int, cpus: int, callers: int, together: threading.Barrier | None = None) -> set[str]:
        seen: set[str] = set()

        class Recording:
            def verify(self, stored: str, password: str) -> bool:
                seen.add(threading.current_thread().name)
                if together is not None:
                    together.wait(timeout=30)  # (broken, and so failing, unless that many hash at once)
                return real.verify(stored, password)

        monkeypatch.setattr(passwords, "HASHER", Recording())
        recycled: list[object] = []
        monkeypatch.setattr(serving.recycling, "post_fork", lambda server, worker: recycled.append(worker))
        monkeypatch.setattr(serving, "usable_cpus", lambda: cpus)
        server = type("Arbiter", (), {"cfg": type("Config", (), {"workers": workers})()})()
        serving.post_fork(server, "worker")  # (gunicorn's hook in a new worker)
        assert recycled == ["worker"]
        with ThreadPoolExecutor(callers) as pool:
            assert all(pool.map(lambda _: verify_password(stored, "Corr3ct-Horse!"), range(callers)))
        return seen

    assert serving.HOOKS["post_fork"] is serving.post_fork
    hashing = passwords._Hashing()
    monkeypatch.setattr(passwords, "_hashing", hashing)
    try:
        assert len(run(workers=5, cpus=2, callers=8)) == 1
        assert len(run(workers=1, cpus=4, callers=4, together=threading.Barrier(4))) == 4
    finally:
        hashing.resize(1)  # (its four threads stop)
