"""The signed-in user's passkeys over the JSON API, with their ``AccessToken``:
StartWebAuthnRegistration, CompleteWebAuthnRegistration, ListWebAuthnCredentials and
DeleteWebAuthnCredential, over :mod:`broker.userpool.passkeys` (the rules the hosted account
pages follow too).
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/API_StartWebAuthnRegistration.html

The relying party is the pool's (:func:`broker.userpool.passkeys.relying_party`); the page
that calls ``navigator.credentials.create`` must be one of its exact origins (the server's,
the pool's domains, its app clients' callback URLs, the pool's ``AllowedOrigins``).
Registration needs a pool whose sign-in policy allows ``WEB_AUTHN``; listing and deleting
work whatever the policy, so that a user can still remove their passkeys.

    options = StartWebAuthnRegistration(AccessToken)["CredentialCreationOptions"]
    CompleteWebAuthnRegistration(AccessToken, Credential=<the browser's credential.toJSON()>)
"""
from __future__ import annotations

from typing import Any

from ..userpool import passkeys
from .bearer import resolve
from .call import Call
from .listing import paged
from .registry import operation

#: ListWebAuthnCredentials' largest page (its model's ``MaxResults`` bound).
MAX_RESULTS = 20


@operation("StartWebAuthnRegistration")
def start_web_authn_registration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    options = passkeys.begin_registration(call.session, call.runtime.state, bearer.pool, bearer.user,
                                          call.runtime.settings)
    return {"CredentialCreationOptions": options}


@operation("CompleteWebAuthnRegistration")
def complete_web_authn_registration(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    passkeys.finish_registration(call.session, call.runtime.state, bearer.pool, bearer.user, params["Credential"],
                                 call.runtime.settings, ip=call.ip)
    return {}


@operation("ListWebAuthnCredentials")
def list_web_authn_credentials(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    rows = passkeys.for_user(call.session, bearer.user)
    page, token = paged(rows, params.get("MaxResults"), params.get("NextToken"), key=lambda p: f"{p.id:012d}",
                        default=MAX_RESULTS)
    return {"Credentials": [passkeys.describe(p) for p in page], **({"NextToken": token} if token else {})}


@operation("DeleteWebAuthnCredential")
def delete_web_authn_credential(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    bearer = resolve(call, params["AccessToken"])
    passkeys.delete(call.session, bearer.pool, bearer.user, params["CredentialId"], ip=call.ip)
    return {}

