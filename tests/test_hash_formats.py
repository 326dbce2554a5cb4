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


_SALT, _HASH32, _HASH64 = "c2FsdHNhbHRzYWx0c2FsdA", "A" * 43, "A" * 86


@pytest.mark.parametrize("costly", [
    "$2b$14$" + "a" * 53,
    f"$pbkdf2-sha256$i=2000001${_SALT}${_HASH32}",
    f"$pbkdf2-sha256$i=1000001${_SALT}${_HASH64}",  # 64 bytes of SHA-256: every round runs twice
    f"$pbkdf2$i=600000${_SALT}${_HASH64}",  # SHA-1: four blocks
    f"$pbkdf2-sha512$i=1000001${_SALT}${_HASH64}",
    f"$argon2id$v=19$m=102401,t=1,p=1${_SALT}${_HASH32}",
    f"$argon2id$v=19$m=65536,t=5,p=1${_SALT}${_HASH32}",
    f"$argon2id$v=19$m=8192,t=1,p=9${_SALT}${_HASH32}",
    f"$scrypt$ln=17,r=8,p=1${_SALT}${_HASH32}",  # 128 MiB
    f"$scrypt$ln=14,r=8,p=5${_SALT}${_HASH32}",
])
def test_hashes_costing_more_than_the_default_argon2_are_refused(costly):
    with pytest.raises(HashRejected, match="work|out of bounds|between"):
        recognise(costly)
    assert not verify(costly, "anything")


@pytest.mark.parametrize("bounded", [
    "$2b$13$" + "a" * 53,
    f"$pbkdf2-sha256$i=2000000${_SALT}${_HASH32}",
    f"$pbkdf2-sha1$i=1000000${_SALT}${'A' * 32}",  # 24 bytes of SHA-1: two blocks
    f"$pbkdf2-sha512$i=1000000${_SALT}${_HASH64}",
    f"$argon2id$v=19$m=65536,t=3,p=4${_SALT}${_HASH32}",  # argon2-cffi's default
    f"$argon2id$v=19$m=65536,t=4,p=4${_SALT}${_HASH32}",
    f"$argon2id$v=19$m=102400,t=2,p=8${_SALT}${_HASH32}",  # Django's default
    f"$scrypt$ln=16,r=8,p=1${_SALT}${_HASH32}",  # 64 MiB
])
def test_hashes_within_the_budget_are_accepted(bounded):
    assert recognise(bounded) == bounded


def test_scrypt_n_that_openssl_refuses_is_refused_at_import_and_never_fails_sign_in():
    """OpenSSL wants N < 2^(16·r): with r=1, ln=16 passes the memory bound but not OpenSSL."""
    refused = f"$scrypt$ln=16,r=1,p=1${_SALT}${_HASH32}"
    with pytest.raises(HashRejected, match="2\\^"):
        recognise(refused)
    assert not verify(refused, "anything")
    with pytest.raises(InvalidInput):
        Firebase.parse("signer_key=jxsp,salt_separator=Bw==,rounds=1,mem_cost=16")
    allowed = recognise(f"$scrypt$ln=15,r=1,p=1${_SALT}${_HASH32}")
    assert not verify(allowed, "anything")


@pytest.mark.parametrize("bad", [
    f"$argon2id$v=19$m=1024,t=1,p=1${_SALT}$aGFzaGhhc2hoYXNoé",
    f"$argon2id$v=19$m=1024,t=1,p=1$c2Fsd\u00e9HNhbHQ${_HASH32}",
    f"$argon2id$v=19$m=1024,t=1,p=1$c2F!!HNhbHQ${_HASH32}",
    f"$argon2id$v=19$m=1024,t=1,p=1$c2E${_HASH32}",  # salt of 2 bytes
])
def test_argon2_salt_and_hash_are_checked_at_import_and_sign_in_never_fails(bad):
    with pytest.raises(HashRejected, match="Argon2"):
        recognise(bad)
    assert not verify(bad, "anything") and not verify_password(bad, "anything")
