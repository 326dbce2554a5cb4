"""UserMigration from a legacy directory that knows every user named legacy_* and their
password (here one for all of them, as a directory lookup would answer)."""
from tests.trigger_handlers.record import note

LEGACY_PASSWORD = "Legacy-Secret-42"


def _lookup(username):
    if not username.startswith("legacy_"):
        return None
    return {"email": f"{username}@legacy.example", "email_verified": "true", "custom:origin": "legacy"}


def migrate(event, context):
    note(event, passwordSent="password" in event["request"])
    user = _lookup(event["userName"])
    if event["triggerSource"] == "UserMigration_Authentication":
        if user is None or event["request"]["password"] != LEGACY_PASSWORD:
            raise Exception("Bad username or password")
        event["response"]["userAttributes"] = user
        event["response"]["finalUserStatus"] = "CONFIRMED"
        event["response"]["messageAction"] = "SUPPRESS"
    elif event["triggerSource"] == "UserMigration_ForgotPassword" and user is not None:
        event["response"]["userAttributes"] = user
        event["response"]["messageAction"] = "SUPPRESS"
    return event


def migrate_needing_reset(event, context):
    """Users whose legacy passwords were too weak: they must choose a new one."""
    event = migrate(event, context)
    if event["response"].get("userAttributes"):
        event["response"]["finalUserStatus"] = "RESET_REQUIRED"
    return event


def migrate_nonsense(event, context):
    event["response"]["userAttributes"] = {"email": "x@legacy.example"}
    event["response"]["finalUserStatus"] = "ALMOST"
    return event
