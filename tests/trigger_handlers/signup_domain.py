"""PreSignUp handlers as a company writes them: its own people are confirmed at once, with
their address verified; everyone else signs up as usual, or not at all."""
from tests.trigger_handlers.record import note

COMPANY = "corp.example"


def _domain(event):
    return event["request"]["userAttributes"].get("email", "").rpartition("@")[2]


def auto_confirm_company(event, context):
    note(event)
    if _domain(event) == COMPANY:
        event["response"]["autoConfirmUser"] = True
        event["response"]["autoVerifyEmail"] = True
    return event


def company_only(event, context):
    note(event)
    domain = _domain(event)
    if domain != COMPANY:
        raise Exception(f"Sign-ups from {domain} are not allowed")
    return event


def verify_without_confirm(event, context):
    event["response"]["autoVerifyEmail"] = True
    return event


def confirm_as_text(event, context):
    event["response"]["autoConfirmUser"] = "yes"
    return event
