"""PreSignUp: users of one company's domain are confirmed at once, everyone else is refused.

    broker pool update --pool ID --trigger PreSignUp=python:auto_confirm:lambda_handler
"""
import os

DOMAIN = os.environ.get("SIGNUP_DOMAIN", "example.com")


def lambda_handler(event, context):
    email = event["request"]["userAttributes"].get("email", "")
    if not email.lower().endswith("@" + DOMAIN):
        raise Exception(f"Sign-up is for {DOMAIN} addresses only")
    event["response"]["autoConfirmUser"] = True
    event["response"]["autoVerifyEmail"] = True
    return event
