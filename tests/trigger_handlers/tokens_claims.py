"""PreTokenGeneration handlers in the shape AWS documents for Python Lambdas: read the
event, fill ``event["response"]``, return the event."""
import json


def lambda_handler(event, context):
    """V1_0: a claim for the ID token, one suppressed, the groups replaced, and claims that
    cannot change (Cognito ignores those)."""
    groups = event["request"]["groupConfiguration"]["groupsToOverride"]
    event["response"]["claimsOverrideDetails"] = {
        "claimsToAddOrOverride": {
            "tier": "gold",
            "source": event["triggerSource"],
            "plan": event["request"]["clientMetadata"].get("plan", "none"),
            "visits": 3,
            "sub": "not-the-user",
            "iss": "https://elsewhere.example",
            "event_id": "not-the-event",
        },
        "claimsToSuppress": ["email", "token_use"],
        "groupOverrideDetails": {
            "groupsToOverride": groups + ["from-trigger"],
            "iamRolesToOverride": ["arn:aws:iam::123456789012:role/trigger"],
            "preferredRole": "arn:aws:iam::123456789012:role/trigger",
        },
    }
    return event


def claims_only(event, context):
    """V1_0, as AWS's first example: add a claim, suppress one; the groups stay."""
    event["response"]["claimsOverrideDetails"] = {
        "claimsToAddOrOverride": {"attribute_key": "attribute_value"},
        "claimsToSuppress": ["email"],
    }
    return event


def no_groups(event, context):
    """V1_0: an empty list of groups takes the groups away."""
    event["response"]["claimsOverrideDetails"] = {"groupOverrideDetails": {"groupsToOverride": []}}
    return event


def null_groups(event, context):
    """V1_0: a null groupOverrideDetails changes nothing."""
    event["response"]["claimsOverrideDetails"] = {"claimsToAddOrOverride": {"tier": "gold"},
                                                  "groupOverrideDetails": None}
    return event


def version_two(event, context):
    """V2_0: both tokens, the access token's scopes, and JSON values of every kind."""
    scopes = event["request"]["scopes"]
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {
            "claimsToAddOrOverride": {"tier": "gold", "features": ["beta", 2, True], "limits": {"daily": 5}},
            "claimsToSuppress": ["email"],
        },
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"tenant": "acme", "seen_scopes": " ".join(scopes),
                                      "source": event["triggerSource"], "client_id": "someone-else"},
            "claimsToSuppress": ["username"],
            "scopesToAdd": ["photos/read", "openid"],
            "scopesToSuppress": ["profile", "aws.cognito.signin.user.admin"],
        },
        "groupOverrideDetails": {"groupsToOverride": ["v2-group"]},
    }
    return event


def echo(event, context):
    """The event it was given, as a claim of the ID token (V1_0), for tests to read."""
    event["response"]["claimsOverrideDetails"] = {"claimsToAddOrOverride": {"event": json.dumps(event)}}
    return event


def noop(event, context):
    """Changes nothing: what a trigger costs by itself (bench/triggers.py)."""
    return event


def wrong_types(event, context):
    """claimsToSuppress must be a list of names."""
    event["response"]["claimsOverrideDetails"] = {"claimsToSuppress": "email"}
    return event


def object_in_v1(event, context):
    """V1_0's claims are strings: an object is no answer."""
    event["response"]["claimsOverrideDetails"] = {"claimsToAddOrOverride": {"limits": {"daily": 5}}}
    return event


def object_as_email_verified(event, context):
    """V2_0 takes objects, but not as email_verified."""
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToAddOrOverride": {"email_verified": {"yes": True}}}}
    return event


def scope_with_space(event, context):
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "accessTokenGeneration": {"scopesToAdd": ["two words"]}}
    return event
