"""Input checks read from AWS's own service model (botocore's data), and the registry that
refuses operations the model does not define."""
from __future__ import annotations

import pytest

from broker.api import load_operations, model, registry
from broker.api.errors import AwsError


def _problem(operation: str, params: dict) -> AwsError:
    with pytest.raises(AwsError) as caught:
        model.validate(model.operation_model("cognito-idp", operation), params)
    return caught.value


def test_enum_values_are_the_models() -> None:
    exc = _problem("InitiateAuth", {"ClientId": "abc", "AuthFlow": "PLEASE_LET_ME_IN"})
    assert exc.type == "InvalidParameterException"
    assert exc.message.startswith("1 validation error detected: Value 'PLEASE_LET_ME_IN' at 'authFlow' failed to "
                                  "satisfy constraint: Member must satisfy enum value set: [")
    assert "USER_SRP_AUTH" in exc.message and "REFRESH_TOKEN_AUTH" in exc.message
    model.validate(model.operation_model("cognito-idp", "InitiateAuth"),
                   {"ClientId": "abc", "AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"USERNAME": "a"}})


def test_map_keys_and_values_are_checked() -> None:
    exc = _problem("CreateIdentityProvider", {"UserPoolId": "local_abc", "ProviderName": "Corp", "ProviderType": "OIDC",
                                              "ProviderDetails": {}, "AttributeMapping": {"": "email"}})
    assert exc.message == ("1 validation error detected: Value '' at 'attributeMapping.key' failed to satisfy "
                           "constraint: Member must have length greater than or equal to 1")
    serial = _problem("InitiateAuth", {"ClientId": "abc", "AuthFlow": "USER_SRP_AUTH", "AuthParameters": {"a": 5}})
    assert serial.type == "SerializationException"


def test_numbers_must_fit_javas_types_and_the_models_range() -> None:
    op = "ListUserPools"
    assert _problem(op, {"MaxResults": 2 ** 31}).type == "SerializationException"
    assert _problem(op, {"MaxResults": 1.5}).type == "SerializationException"
    assert _problem(op, {"MaxResults": True}).type == "SerializationException"
    exc = _problem(op, {"MaxResults": 0})
    assert exc.type == "InvalidParameterException"
    assert "Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1" \
        in exc.message


@pytest.mark.parametrize("pattern, value, matches", [
    (r"[\w+]+", "abc_123+", True),
    (r"[\w+]+", "abcé", False),  # Java's \w is ASCII
    (r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+", "Åsa-Ölund_1", True),
    (r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+", "two words", False),
    (r"[\S]+", "no-spaces", True),
    (r"[\S]+", "a b", False),
    (r"[\w-]+_[0-9a-zA-Z]+", "us-east-1_Ab12", True),
    (r"^[\w\- ]+$", "a b-c", True),
])
def test_java_patterns(pattern: str, value: str, matches: bool) -> None:
    assert bool(model._compiled(pattern).fullmatch(value)) is matches


def test_every_pattern_of_the_model_compiles() -> None:
    shapes = model.service_model("cognito-idp")._shape_resolver._shape_map
    patterns = {s["pattern"] for s in shapes.values() if "pattern" in s}
    assert len(patterns) > 20
    for pattern in patterns:
        model._compiled(pattern)


def test_registry_refuses_names_the_model_lacks_and_repeats() -> None:
    load_operations()
    with pytest.raises(ValueError, match="defines no operation 'SignUpPlease'"):
        registry.operation("SignUpPlease")(lambda call, params: {})
    with pytest.raises(ValueError, match="registered twice"):
        registry.operation("SignUp")(lambda call, params: {})
    sign_up = registry.find("AWSCognitoIdentityProviderService.SignUp")
    assert sign_up is not None and sign_up.public
    assert registry.find("AWSCognitoIdentityService.SignUp") is None
    assert registry.find("SignUp") is None
    assert {"SignUp", "ConfirmSignUp", "ResendConfirmationCode", "ForgotPassword",
            "ConfirmForgotPassword"} <= set(registry.registered())
