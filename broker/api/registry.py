"""The operations the JSON API answers, registered by name under the service whose model
(botocore's ``service-2.json``) defines them. An operation is a small function of the call
and its already-validated input, returning the output members as a dict; it raises
:class:`~broker.api.errors.AwsError` (or one of :mod:`broker.errors`, mapped in
:mod:`broker.api.errors`) to refuse.

    from broker.api.call import Call
    from broker.api.registry import operation

    @operation("ConfirmSignUp")
    def confirm_sign_up(call: Call, params: dict) -> dict:
        client, pool = call.client(params)
        call.check_secret_hash(client, params["Username"], params)
        accounts.confirm_sign_up(call.session, call.runtime.state, pool, params["Username"],
                                 params["ConfirmationCode"], call.requester)
        return {}

A module of operations is loaded by naming it in :data:`broker.api.OPERATION_MODULES`.
Registering a name the model does not have, or one already registered, raises at import:
a typo never becomes an operation that silently does not exist.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from botocore.model import OperationModel

from . import model

if TYPE_CHECKING:
    from .call import Call

Handler = Callable[["Call", dict[str, Any]], dict[str, Any]]

#: ``X-Amz-Target`` prefixes and the botocore service each one names.
SERVICES = {
    "AWSCognitoIdentityProviderService": "cognito-idp",
    "AWSCognitoIdentityService": "cognito-identity",
}


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    handler: Handler
    model: OperationModel

    @property
    def public(self) -> bool:
        """Cognito leaves it unsigned (``authtype: none``): the ClientId, the SECRET_HASH
        or the user's access token are the caller's proof. Every other operation needs
        AWS Signature Version 4."""
        return self.model.auth_type == "none" or list(self.model.auth or []) == ["smithy.api#noAuth"]


_OPERATIONS: dict[tuple[str, str], Operation] = {}


def operation(name: str, service: str = "cognito-idp") -> Callable[[Handler], Handler]:
    """Register the decorated function as operation ``name`` of ``service``."""
    def register(handler: Handler) -> Handler:
        try:
            op_model = model.operation_model(service, name)
        except KeyError:
            raise ValueError(f"{service} defines no operation {name!r}") from None
        if (service, name) in _OPERATIONS:
            raise ValueError(f"operation {service}.{name} is registered twice")
        _OPERATIONS[(service, name)] = Operation(service, name, handler, op_model)
        return handler
    return register


def find(target: str) -> Operation | None:
    """The operation an ``X-Amz-Target`` header names (``AWSCognitoIdentityProviderService.SignUp``)."""
    prefix, _, name = target.rpartition(".")
    service = SERVICES.get(prefix)
    return _OPERATIONS.get((service, name)) if service else None


def registered(service: str = "cognito-idp") -> list[str]:
    return sorted(name for s, name in _OPERATIONS if s == service)
