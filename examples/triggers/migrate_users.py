"""UserMigration: users of a legacy directory move over the first time they sign in or ask
for a password reset, keeping their password. Here the directory is an SQLite file of
bcrypt hashes named by LEGACY_DB; any lookup (LDAP, an old API) works the same way.

    broker pool update --pool ID --trigger UserMigration=python:migrate_users:lambda_handler
"""
import os
import sqlite3

import bcrypt


def find_user(username):
    with sqlite3.connect(os.environ["LEGACY_DB"]) as db:
        return db.execute("SELECT email, password_hash FROM users WHERE username = ?", (username,)).fetchone()


def lambda_handler(event, context):
    user = find_user(event["userName"])
    if user is None:
        raise Exception("User does not exist")
    email, password_hash = user
    if event["triggerSource"] == "UserMigration_Authentication":
        if not bcrypt.checkpw(event["request"]["password"].encode(), password_hash.encode()):
            raise Exception("Bad password")
        event["response"]["finalUserStatus"] = "CONFIRMED"
    event["response"]["userAttributes"] = {"email": email, "email_verified": "true"}
    event["response"]["messageAction"] = "SUPPRESS"
    return event
