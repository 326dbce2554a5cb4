"""Password hashes made by the systems users come from (Django's hashers, passlib, the
``bcrypt`` package, argon2-cffi, Firebase's published test vector) are recognised, stored
as PHC strings, verify the right password only, and ask to be upgraded to Argon2id."""
from __future__ import annotations

import pytest

import tests.django_hashers  # noqa: F401  (Django's hashers, configured once)
from broker.errors import InvalidInput
from broker.userpool.hash_formats import Firebase, HashRejected, recognise, verify
from broker.userpool.passwords import needs_rehash, verify_password

PASSWORD = "Ünïcode-Pässword 1!"


def _django(name: str) -> str:
    from django.contrib.auth import hashers

    hasher = hashers.get_hasher(name)
    if name.startswith("pbkdf2"):
        hasher.iterations = 2000  # keep the test quick; the format is Django's
    if name == "scrypt":
        hasher.work_factor = 2 ** 10
    if name.startswith("bcrypt"):
        hasher.rounds = 4
    return hasher.encode(PASSWORD, hasher.salt())


def _passlib(name: str) -> str:
    from passlib import hash as schemes

    handler = getattr(schemes, name)
    options = {"pbkdf2_sha256": {"rounds": 2000}, "pbkdf2_sha1": {"rounds": 2000}, "pbkdf2_sha512": {"rounds": 2000},
               "scrypt": {"rounds": 10}, "bcrypt": {"rounds": 4}, "argon2": {"rounds": 1, "memory_cost": 1024}}[name]
    return handler.using(**options).hash(PASSWORD)


MADE = {
    **{f"django {n}": (lambda n=n: _django(n)) for n in
       ("pbkdf2_sha256", "pbkdf2_sha1", "argon2", "bcrypt_sha256", "bcrypt", "scrypt")},
    **{f"passlib {n}": (lambda n=n: _passlib(n)) for n in
       ("pbkdf2_sha256", "pbkdf2_sha1", "pbkdf2_sha512", "scrypt", "bcrypt", "argon2")},
}


@pytest.mark.parametrize("source", sorted(MADE))
def test_foreign_hashes_are_stored_as_phc_and_verify_the_right_password_only(source):
    stored = recognise(MADE[source]())
    assert stored.startswith(("$argon2", "$2b$", "$pbkdf2-", "$scrypt$ln=", "bcrypt_sha256$$2b$"))
    assert verify_password(stored, PASSWORD)
    assert not verify_password(stored, PASSWORD.lower())
    assert needs_rehash(stored)
    assert recognise(stored) == stored  # a stored hash exports and imports again as it is


def test_bcrypt_prefixes_of_php_and_openbsd_verify():
    import bcrypt

    made = bcrypt.hashpw(b"secret-pw", bcrypt.gensalt(4)).decode()
    for prefix in ("$2a$", "$2b$", "$2y$"):
        stored = recognise(prefix + made[4:])
        assert verify(stored, "secret-pw") and not verify(stored, "secret-px")


def test_bcrypt_reads_72_bytes_as_the_systems_that_made_the_hash():
    import bcrypt

    long = "x" * 80
    stored = recognise(bcrypt.hashpw(long[:72].encode(), bcrypt.gensalt(4)).decode())
    assert verify(stored, long) and verify(stored, long[:72])


#: Firebase's published example (github.com/firebase/scrypt, README).
FIREBASE = Firebase.parse("signer_key=jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==,"
                          "salt_separator=Bw==,rounds=8,mem_cost=14")
FIREBASE_USER = "$firebase-scrypt$42xEC+ixf3L2lw==$lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ=="


def test_firebase_scrypt_with_the_projects_parameters():
    stored = recognise(FIREBASE_USER, FIREBASE)
    assert stored.startswith("$firebase-scrypt$ln=14,r=8,sep=Bw,key=jxspr8Ki0")
    assert verify_password(stored, "user1password") and not verify_password(stored, "user2password")
    assert recognise(stored) == stored  # self-contained: no parameters needed again
    with pytest.raises(HashRejected):
        recognise(FIREBASE_USER)  # the short form needs the project's parameters


@pytest.mark.parametrize("bad", [
    "", "md5$abc$def", "$2b$03$" + "a" * 53, "$2b$31$" + "a" * 53, "pbkdf2_sha256$0$salt$aGFzaGhhc2hoYXNoaGFzaA==",
    "pbkdf2_md5$1000$salt$aGFzaGhhc2hoYXNoaGFzaA==", "$pbkdf2-sha256$1000$!!$aGFzaA", "scrypt$1000$salt$8$1$aGFzaA==",
    "$scrypt$ln=30,r=8,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", "$argon2id$v=19$m=9999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
    "$argon2id$garbage", "x" * 2000,
])
def test_malformed_or_too_costly_hashes_are_refused_with_a_reason(bad):
    with pytest.raises(HashRejected) as refused:
        recognise(bad)
    assert refused.value.message and isinstance(refused.value, InvalidInput)
    assert not verify(bad, "anything")


def test_firebase_parameters_are_checked():
    with pytest.raises(InvalidInput):
        Firebase.parse("signer_key=abc,rounds=8")
    with pytest.raises(InvalidInput):
        Firebase.parse("signer_key=jxsp,salt_separator=Bw==,rounds=8,mem_cost=40")
