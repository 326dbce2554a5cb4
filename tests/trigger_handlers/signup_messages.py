"""CustomMessage handlers: the message of each trigger source written by the app, with
Cognito's placeholders where the code and the username go."""
from tests.trigger_handlers.record import note


def lambda_handler(event, context):
    note(event)
    source, request = event["triggerSource"], event["request"]
    code = request["codeParameter"]
    if source == "CustomMessage_AdminCreateUser":
        body = f"Welcome aboard! Sign in as {request['usernameParameter']} with the password {code}."
    else:
        body = f"Hello {event['userName']}, the code for {source} is {code}."
    event["response"]["emailSubject"] = f"[{source}] from the app"
    event["response"]["emailMessage"] = body
    event["response"]["smsMessage"] = f"{source}: {code}"
    return event


def html(event, context):
    event["response"]["emailSubject"] = "Your code"
    code = event["request"]["codeParameter"]
    event["response"]["emailMessage"] = f"<p>Hello &amp; welcome,</p><p>your code is <b>{code}</b></p>"
    return event


def subject_only(event, context):
    event["response"]["emailSubject"] = "Only the subject is ours"
    return event


def without_code(event, context):
    event["response"]["emailMessage"] = "Welcome! (the code was forgotten)"
    return event
