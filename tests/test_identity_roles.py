"""The role an identity's credentials are for (broker/identity/roles.py), as Cognito chooses it:
default roles, Token mappings (cognito:preferred_role, cognito:roles and CustomRoleArn),
Rules mappings (first match in order; NotEqual skips an absent claim), ambiguous-role
resolution, and Cognito's errors when no role applies."""
from __future__ import annotations

from typing import Any

from broker.identity.providers import Login
from broker.identity.roles import choose, matches
from broker.store.models import IdentityPool
from tests.aws_identity import CONFIGURATION, refusal

AUTH = "arn:aws:iam::123456789012:role/Auth"
GUEST = "arn:aws:iam::123456789012:role/Guest"
ADMINS = "arn:aws:iam::123456789012:role/Admins"
EDITORS = "arn:aws:iam::123456789012:role/Editors"
SALES = "arn:aws:iam::123456789012:role/Sales"
PROVIDER = "localhost:8000/local_Ab12Cd34E"
KEY = f"{PROVIDER}:client1"


def pool(roles: dict[str, str] | None = None, **mappings: dict[str, Any]) -> IdentityPool:
    found = IdentityPool(id="local:00000000-0000-0000-0000-000000000000", name="p", allow_unauthenticated=True)
    found.roles = {"authenticated": AUTH, "unauthenticated": GUEST} if roles is None else roles
    found.role_mappings = {KEY if name == "user_pool" else name: m for name, m in mappings.items()}
    return found


def login(claims: dict[str, Any] | None = None, key: str = KEY, provider: str = PROVIDER) -> Login:
    return Login(provider=provider, subject="sub-1", claims=claims or {}, mapping_key=key)


def token(ambiguous: str = "Deny") -> dict[str, Any]:
    return {"Type": "Token", "AmbiguousRoleResolution": ambiguous}


def rules(*found: tuple[str, str, str, str], ambiguous: str = "Deny") -> dict[str, Any]:
    return {"Type": "Rules", "AmbiguousRoleResolution": ambiguous, "RulesConfiguration": {"Rules": [
        {"Claim": c, "MatchType": m, "Value": v, "RoleARN": r} for c, m, v, r in found]}}


def test_a_guest_gets_the_unauthenticated_role_and_a_login_the_authenticated_one() -> None:
    assert choose(pool(), [], None) == GUEST
    assert choose(pool(), [login()], None) == AUTH
    assert choose(pool(), [login()], AUTH) == AUTH


def test_a_missing_role_is_cognitos_configuration_error() -> None:
    assert refusal(lambda: choose(pool({"authenticated": AUTH}), [], None)) == CONFIGURATION
    assert refusal(lambda: choose(pool({}), [login()], None))[0] == "InvalidIdentityPoolConfigurationException"


def test_a_custom_role_the_pool_does_not_give_is_refused() -> None:
    assert refusal(lambda: choose(pool(), [login()], ADMINS))[0] == "NotAuthorizedException"
    assert refusal(lambda: choose(pool(), [], AUTH))[0] == "NotAuthorizedException"


def test_a_token_mapping_takes_the_preferred_role_or_a_custom_role_among_the_tokens_roles() -> None:
    claims = {"cognito:roles": [ADMINS, EDITORS], "cognito:preferred_role": ADMINS}
    assert choose(pool(user_pool=token()), [login(claims)], None) == ADMINS
    assert choose(pool(user_pool=token()), [login(claims)], EDITORS) == EDITORS
    assert choose(pool(user_pool=token()), [login({"cognito:roles": f"{ADMINS}, {EDITORS}"})], EDITORS) == EDITORS
    assert refusal(lambda: choose(pool(user_pool=token("AuthenticatedRole")), [login(claims)], SALES))[0] == \
        "NotAuthorizedException"


def test_an_ambiguous_token_falls_back_to_the_authenticated_role_or_is_denied() -> None:
    tied = {"cognito:roles": [ADMINS, EDITORS]}
    assert choose(pool(user_pool=token("AuthenticatedRole")), [login(tied)], None) == AUTH
    assert choose(pool(user_pool=token("AuthenticatedRole")), [login({})], None) == AUTH
    assert refusal(lambda: choose(pool(user_pool=token()), [login(tied)], None)) == (
        "NotAuthorizedException", f"The ambiguous role mapping rules for: {KEY} denied this request.")


def test_rules_are_tried_in_order_and_the_first_match_wins() -> None:
    mapping = rules(("custom:dept", "Equals", "sales", SALES), ("email", "Contains", "@example.com", EDITORS),
                    ("email", "StartsWith", "boss", ADMINS))
    assert choose(pool(user_pool=mapping), [login({"email": "boss@example.com"})], None) == EDITORS
    assert choose(pool(user_pool=mapping), [login({"email": "boss@other.org"})], None) == ADMINS
    assert choose(pool(user_pool=mapping), [login({"email": "a@example.com", "custom:dept": "sales"})], None) == SALES
    # CustomRoleArn overrides the order: the first matching rule with that role
    assert choose(pool(user_pool=mapping), [login({"email": "boss@example.com"})], ADMINS) == ADMINS


def test_no_matching_rule_is_ambiguous_both_ways() -> None:
    claims = {"email": "a@other.org"}
    mapping = rules(("email", "Contains", "@example.com", EDITORS), ambiguous="AuthenticatedRole")
    assert choose(pool(user_pool=mapping), [login(claims)], None) == AUTH
    denied = rules(("email", "Contains", "@example.com", EDITORS))
    assert refusal(lambda: choose(pool(user_pool=denied), [login(claims)], None)) == (
        "NotAuthorizedException", f"The ambiguous role mapping rules for: {KEY} denied this request.")
    assert refusal(lambda: choose(pool(user_pool=mapping), [login({"email": "a@example.com"})], SALES))[0] == \
        "NotAuthorizedException"


def test_not_equal_is_not_evaluated_on_an_absent_claim() -> None:
    mapping = rules(("custom:tier", "NotEqual", "free", SALES), ambiguous="AuthenticatedRole")
    assert choose(pool(user_pool=mapping), [login({"custom:tier": "gold"})], None) == SALES
    assert choose(pool(user_pool=mapping), [login({"custom:tier": "free"})], None) == AUTH
    assert choose(pool(user_pool=mapping), [login({})], None) == AUTH


def test_match_types_on_lists_and_other_json_values() -> None:
    def rule(kind: str, value: str, claim: str = "c") -> dict[str, str]:
        return {"Claim": claim, "MatchType": kind, "Value": value, "RoleARN": SALES}

    assert matches(rule("Equals", "admins"), {"c": ["users", "admins"]})
    assert matches(rule("Contains", "dmi"), {"c": ["users", "admins"]})
    assert not matches(rule("NotEqual", "admins"), {"c": ["users", "admins"]})
    assert matches(rule("NotEqual", "root"), {"c": ["users", "admins"]})
    assert matches(rule("Equals", "true"), {"c": True})
    assert matches(rule("StartsWith", "4"), {"c": 42})
    assert not matches(rule("Equals", "Sales"), {"c": "sales"})  # case matters, no wildcards
    assert not matches(rule("Equals", "*"), {"c": "sales"})
    assert not matches(rule("Regex", "s"), {"c": "sales"})


def test_the_mapping_is_the_logins_own_and_the_first_mapped_login_with_a_role_wins() -> None:
    google = login({"email": "a@example.com"}, key="accounts.google.com", provider="accounts.google.com")
    mapped = pool(user_pool=rules(("email", "Equals", "nobody", EDITORS)),
                  **{"accounts.google.com": rules(("email", "Contains", "@example.com", SALES))})
    assert choose(mapped, [login({"email": "a@example.com"}), google], None) == SALES
    assert refusal(lambda: choose(mapped, [login({"email": "a@example.com"})], None))[0] == "NotAuthorizedException"
    # a mapping for another client of the same user pool does not apply
    assert choose(pool(**{f"{PROVIDER}:client2": token()}), [login({})], None) == AUTH
