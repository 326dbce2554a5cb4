"""PreAuthentication and PostAuthentication handlers: refuse users an attribute marks as
suspended, and keep a record of every successful sign-in."""
from tests.trigger_handlers.record import note


def pre_authentication(event, context):
    note(event)
    if event["request"]["userAttributes"].get("custom:suspended") == "yes":
        raise Exception("Your account is suspended, call the help desk")
    if event["userName"].startswith("blocked_"):
        raise Exception("Accounts named blocked_ may not sign in")
    if event["request"]["validationData"].get("deny") == "yes":
        raise Exception("This app may not sign you in")
    return event


def post_authentication(event, context):
    note(event)
    return event
