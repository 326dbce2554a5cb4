"""Django's password hashers, configured once for every test that makes a Django hash: the
first module to configure Django's settings wins, so they all configure them here."""
from __future__ import annotations

from django.conf import settings

HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
           "django.contrib.auth.hashers.Argon2PasswordHasher", "django.contrib.auth.hashers.BCryptSHA256PasswordHasher",
           "django.contrib.auth.hashers.BCryptPasswordHasher", "django.contrib.auth.hashers.ScryptPasswordHasher"]

if not settings.configured:
    settings.configure(PASSWORD_HASHERS=HASHERS)
