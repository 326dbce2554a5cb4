"""User import rate against the cost of one Argon2id hash, measured in one run.

An import that computed Argon2id for each user would run at the hash rate (about 40 users/s
on one core here). ``broker user import`` stores the hashes it is given (checked and put in
PHC form, upgraded at each user's next sign-in), so it should run far above that. This
benchmark prints:

(a) the Argon2id hash rate of the project's own hasher on one core (as ``login_flow.py``);
(b) users/s of ``broker user import --pool ID FILE --json`` (the console script, in its own
    process, timed from start to exit: interpreter start and the commit included) for a
    file of N users (default 10,000) with mixed hash formats: bcrypt, Django PBKDF2-SHA256,
    passlib PBKDF2-SHA1 and scrypt, Argon2id at other parameters, Firebase's scrypt, and one
    user in ten without a hash (RESET_REQUIRED), plus one bad row in a thousand (reported);
(c) (b) ÷ (a): how many users one Argon2id hash's time imports (goal: ≫ 1, about 50+).

The database is SQLite by default (``--db postgresql`` for a throwaway PostgreSQL database).
Run from the repository root::

    .venv/bin/python bench/import_users.py [--users 10000] [--db sqlite|postgresql]
"""
from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parent.parent)]

from harness import BROKER, Stack, cpu_model, make_database  # noqa: E402
from login_flow import measure_hashing  # noqa: E402

HEADER = ["cognito:username", "email", "email_verified", "cognito:mfa_enabled", "custom:plan",
          "cognate:password_hash", "cognate:groups"]
FIREBASE_KEY = base64.b64encode(os.urandom(64)).decode()


def _hashes(count: int) -> list[str]:
    """``count`` hashes of each format, made by the ``bcrypt`` package, argon2-cffi and
    hashlib in each system's own format (libraries the tests use for the same)."""
    import bcrypt
    from argon2 import PasswordHasher
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    out = []
    for i in range(count):
        password, salt = f"Old-password-{i}!".encode(), os.urandom(12)
        salt_text = base64.b64encode(salt).decode().rstrip("=")
        out.append(bcrypt.hashpw(password, bcrypt.gensalt(10)).decode())
        digest = hashlib.pbkdf2_hmac("sha256", password, salt_text.encode(), 600_000)
        out.append(f"pbkdf2_sha256$600000${salt_text}${base64.b64encode(digest).decode()}")
        digest = hashlib.pbkdf2_hmac("sha1", password, salt, 131_000)
        out.append(f"$pbkdf2$131000${salt_text.replace('+', '.')}${base64.b64encode(digest).decode().rstrip('=')}")
        digest = hashlib.scrypt(password, salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
        out.append(f"$scrypt$ln=14,r=8,p=1${salt_text}${base64.b64encode(digest).decode().rstrip('=')}")
        out.append(PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4).hash(password.decode()))
        derived = hashlib.scrypt(password, salt=salt + b"\x07", n=2 ** 14, r=8, p=1, dklen=64)
        enc = Cipher(algorithms.AES(derived[:32]), modes.CTR(bytes(16))).encryptor()
        signed = enc.update(base64.b64decode(FIREBASE_KEY)) + enc.finalize()
        out.append(f"$firebase-scrypt$ln=14,r=8,sep=Bw,key={FIREBASE_KEY.rstrip('=')}${salt_text}$"
                   f"{base64.b64encode(signed).decode().rstrip('=')}")
    return out


def write_file(path: Path, users: int) -> int:
    """The import file; returns how many rows are bad on purpose."""
    hashes = _hashes(4)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, HEADER, lineterminator="\n")
    writer.writeheader()
    bad = 0
    for i in range(users):
        row = {"cognito:username": f"user{i:07d}", "email": f"user{i}@example.com", "email_verified": "true",
               "cognito:mfa_enabled": "false", "custom:plan": "pro" if i % 2 else "free",
               "cognate:groups": "readers" if i % 3 else "readers;writers",
               "cognate:password_hash": "" if i % 10 == 9 else hashes[i % len(hashes)]}
        if i % 1000 == 500:
            row["email"], bad = "not-an-address", bad + 1
        writer.writerow(row)
    path.write_text(buffer.getvalue())
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--hash-seconds", type=float, default=5.0)
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON document")
    args = parser.parse_args()

    stack = Stack(Path(tempfile.mkdtemp(prefix="cognate-bench-import-")))
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BROKER_", "DATABASE_URL", "REDIS_URL"))}
        env.update({"BROKER_SECRET_KEY": secrets.token_urlsafe(40), "BROKER_DATA_DIR": str(stack.tmp / "var"),
                    "DATABASE_URL": make_database(stack, args.db, args.postgres_url), "BROKER_ENV": "development"})
        stack.env = env
        stack.cli("db", "upgrade", as_json=False)
        pool = stack.cli("pool", "create", "--name", "bench")["Id"]
        path = stack.tmp / "users.csv"
        bad = write_file(path, args.users)

        before, background_before = measure_hashing(args.hash_seconds)
        start = time.perf_counter()
        out = subprocess.run([BROKER, "user", "import", "--pool", pool, str(path), "--json"], env=env,
                             capture_output=True, text=True, timeout=3600)
        elapsed = time.perf_counter() - start
        if out.returncode != 0:
            raise SystemExit(f"broker user import failed: {out.stderr.strip()}")
        report = json.loads(out.stdout)
        after, background_after = measure_hashing(args.hash_seconds)
    finally:
        stack.close()

    show(args, report, bad, elapsed, before, after, max(background_before, background_after))


def show(args: argparse.Namespace, report: dict, bad: int, elapsed: float, before: float, after: float,
         background: float) -> None:
    """Print the figures (or one JSON document); exit 1 when the rejects are not the planted ones."""
    hashes = (before + after) / 2
    rate = report["ImportedUsers"] / elapsed
    figures = {"cpu": cpu_model(), "db": args.db, "users": args.users, "imported": report["ImportedUsers"],
               "rejected": report["FailedUsers"], "rejected_expected": bad, "seconds": round(elapsed, 2),
               "users_per_s": round(rate, 1), "argon2id_hashes_per_s": round(hashes, 1),
               "ratio": round(rate / hashes, 1), "background_cpus": round(background, 2)}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"machine: {figures['cpu']}, {os.cpu_count()} CPUs; database: {args.db}")
        print(f"(a) Argon2id hashes/s, one core:       {hashes:8.1f}  (before {before:.1f}, after {after:.1f})")
        print(f"(b) users imported/s (broker user import): {rate:8.1f}  ({report['ImportedUsers']} users in "
              f"{elapsed:.2f} s, {report['FailedUsers']} rows rejected, {bad} bad on purpose)")
        print(f"(c) import ÷ Argon2id: {rate / hashes:.1f} users per hash's time (goal: >> 1)")
        if background > 0.25:
            print(f"WARNING: other processes kept {background:.2f} CPUs busy: do not quote this run")
    if report["FailedUsers"] != bad:
        raise SystemExit(f"expected {bad} rejected rows, got {report['FailedUsers']}")


if __name__ == "__main__":
    main()
