"""A passwordless custom authentication flow: a one-time code the CreateAuthChallenge
handler makes (and "sends": the journal stands for the mail), three tries, then the end;
after SRP_A it asks for the password first (CUSTOM_WITH_SRP)."""
import secrets

from tests.trigger_handlers.record import note

TRIES = 3


def define(event, context):
    note(event)
    session = event["request"]["session"]
    response = event["response"]
    last = session[-1] if session else None
    custom = [c for c in session if c["challengeName"] == "CUSTOM_CHALLENGE"]
    if last is None or (last["challengeName"] == "PASSWORD_VERIFIER" and last["challengeResult"]):
        response.update(challengeName="CUSTOM_CHALLENGE", issueTokens=False, failAuthentication=False)
    elif last["challengeName"] == "SRP_A":
        response.update(challengeName="PASSWORD_VERIFIER", issueTokens=False, failAuthentication=False)
    elif last["challengeName"] == "CUSTOM_CHALLENGE" and last["challengeResult"] is True:
        response.update(issueTokens=True, failAuthentication=False)
    elif len(custom) < TRIES:
        response.update(challengeName="CUSTOM_CHALLENGE", issueTokens=False, failAuthentication=False)
    else:
        response.update(issueTokens=False, failAuthentication=True)
    return event


def define_endless(event, context):
    """Never satisfied: asks one more challenge after every answer."""
    note(event)
    event["response"].update(challengeName="CUSTOM_CHALLENGE", issueTokens=False, failAuthentication=False)
    return event


def create(event, context):
    code = f"{secrets.randbelow(10**6):06d}"
    note(event, code=code)
    event["response"]["publicChallengeParameters"] = {"delivery": "journal", "attempt": str(len(event["request"]["session"]))}
    event["response"]["privateChallengeParameters"] = {"code": code}
    event["response"]["challengeMetadata"] = "CODE-" + str(len(event["request"]["session"]))
    return event


def verify(event, context):
    note(event)
    expected = event["request"]["privateChallengeParameters"].get("code")
    event["response"]["answerCorrect"] = event["request"]["challengeAnswer"] == expected
    return event
