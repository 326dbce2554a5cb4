"""PreTokenGeneration, event version V2_0: a claim in both tokens, a scope in the access token.

    broker pool update --pool ID --trigger PreTokenGeneration=python:add_claims:lambda_handler \
        --pre-token-generation-version V2_0
"""


def lambda_handler(event, context):
    tier = event["request"]["userAttributes"].get("custom:tier", "free")
    event["response"]["claimsAndScopeOverrideDetails"] = {
        "idTokenGeneration": {"claimsToAddOrOverride": {"tier": tier}},
        "accessTokenGeneration": {
            "claimsToAddOrOverride": {"tier": tier},
            "scopesToAdd": [f"reports/{tier}"],
        },
    }
    return event
