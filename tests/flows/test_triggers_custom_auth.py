"""CUSTOM_AUTH through the cognito-idp API against a live server running Define, Create and
Verify handlers written as AWS documents them: a one-time code as the only factor (wrong,
then right), the end after three wrong codes, a pool whose DefineAuthChallenge never stops
asking, SRP's password first (CUSTOM_WITH_SRP), unknown names that go through the same steps
and never get tokens, one-time Sessions, and pools or clients that do not allow it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pyotp
import pytest
from pycognito.aws_srp import AWSSRP

from broker.engine.custom_auth import MAX_CHALLENGES
from tests.aws import admin_idp, cognito_idp, refused
from tests.flows.triggers_common import HANDLERS, PASSWORD, claims, events, site, trigger_broker
from tests.flows.triggers_common import journal  # noqa: F401 (a fixture)
from tests.node_peers import node_peers  # noqa: F401 (a fixture)

CHALLENGES = f"{HANDLERS}.signin_challenges"
TRIGGERS = (f"DefineAuthChallenge={CHALLENGES}:define", f"CreateAuthChallenge={CHALLENGES}:create",
            f"VerifyAuthChallengeResponse={CHALLENGES}:verify")
#: A pool's app client and its user ``cat``.
CAT = {"flows": ("ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"), "users": ("cat",)}
INCORRECT = ("NotAuthorizedException", "Incorrect username or password.")
THROTTLED = ("NotAuthorizedException", "Password attempts exceeded")
NOT_CONFIGURED = ("InvalidParameterException", "Custom auth lambda trigger is not configured for the user pool.")


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, journal):
    with trigger_broker(tmp_path_factory.mktemp("trig-custom"), redis_url, journal) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


@pytest.fixture(scope="module")
def admin(server):
    return admin_idp(server.base_url, server.cli_json("admin-key", "create"))


def _code(journal: Path, pool: str, username: str) -> str:
    """The code the CreateAuthChallenge handler made last for ``username`` (its "mail")."""
    return [e for e in events(journal, pool, "CreateAuthChallenge_Authentication") if e["userName"] == username][-1]["code"]


def _start(idp, client: str, username: str = "cat") -> dict:
    return idp.initiate_auth(ClientId=client, AuthFlow="CUSTOM_AUTH", AuthParameters={"USERNAME": username})


def _answer(idp, client: str, session: str, answer: str, username: str = "cat", **metadata: str) -> dict:
    return idp.respond_to_auth_challenge(ClientId=client, ChallengeName="CUSTOM_CHALLENGE", Session=session,
                                         ChallengeResponses={"USERNAME": username, "ANSWER": answer},
                                         ClientMetadata=metadata)


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_a_code_answered_wrong_then_right_signs_in_with_tokens(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    first = _start(idp, client)
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert first["ChallengeParameters"]["delivery"] == "journal" and first["ChallengeParameters"]["USERNAME"] == "cat"
    assert "code" not in json.dumps(first["ChallengeParameters"])  # private parameters stay private
    second = _answer(idp, client, first["Session"], _wrong(_code(journal, pool, "cat")))
    assert second["ChallengeName"] == "CUSTOM_CHALLENGE" and second["Session"] != first["Session"]
    assert second["ChallengeParameters"]["attempt"] == "1"
    done = _answer(idp, client, second["Session"], _code(journal, pool, "cat"), app="web")
    tokens = done["AuthenticationResult"]
    assert tokens["AccessToken"] and tokens["IdToken"] and tokens["RefreshToken"]
    refreshed = idp.initiate_auth(ClientId=client, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert refreshed["AuthenticationResult"]["AccessToken"]
    defines = events(journal, pool, "DefineAuthChallenge_Authentication")
    assert [len(e["request"]["session"]) for e in defines] == [0, 1, 2]
    assert defines[1]["request"]["session"] == [{"challengeName": "CUSTOM_CHALLENGE", "challengeResult": False,
                                                 "challengeMetadata": "CODE-0"}]
    assert defines[2]["request"]["session"][-1]["challengeResult"] is True
    assert defines[0]["request"]["userNotFound"] is False and defines[0]["request"]["clientMetadata"] == {}
    assert defines[2]["request"]["clientMetadata"] == {"app": "web"}
    verified = events(journal, pool, "VerifyAuthChallengeResponse_Authentication")[-1]["request"]
    assert verified["challengeAnswer"] == verified["privateChallengeParameters"]["code"]


def test_three_wrong_codes_fail_the_sign_in(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    step = _start(idp, client)
    for _ in range(2):
        step = _answer(idp, client, step["Session"], _wrong(_code(journal, pool, "cat")))
        assert step["ChallengeName"] == "CUSTOM_CHALLENGE"
    last = step["Session"]
    time.sleep(1.1)  # the start and two wrong answers: the password throttle's delay
    assert refused(lambda: _answer(idp, client, last, _wrong(_code(journal, pool, "cat")))) == INCORRECT
    expired = ("NotAuthorizedException", "Invalid session for the user, session is expired.")
    assert refused(lambda: _answer(idp, client, last, _code(journal, pool, "cat"))) == expired


def test_starts_and_wrong_answers_are_throttled_as_passwords_are(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    for name in ("cat", "nobody"):  # a name the pool lacks alike
        for _ in range(3):
            _start(idp, client, name)
        defines = len(events(journal, pool, "DefineAuthChallenge_Authentication"))
        assert refused(lambda: _start(idp, client, name)) == THROTTLED
        assert len(events(journal, pool, "DefineAuthChallenge_Authentication")) == defines  # no trigger ran

    pool, client = site(server, *TRIGGERS, **CAT).ids
    step = _start(idp, client)
    for _ in range(2):
        step = _answer(idp, client, step["Session"], _wrong(_code(journal, pool, "cat")))
    verifies = len(events(journal, pool, "VerifyAuthChallengeResponse_Authentication"))
    assert refused(lambda: _answer(idp, client, step["Session"], _code(journal, pool, "cat"))) == THROTTLED
    assert len(events(journal, pool, "VerifyAuthChallengeResponse_Authentication")) == verifies
    time.sleep(1.1)
    done = _answer(idp, client, step["Session"], _code(journal, pool, "cat"))  # the Session waited
    assert done["AuthenticationResult"]["AccessToken"]
    for _ in range(3):  # tokens cleared the name's count
        _start(idp, client)


def test_each_session_answers_once(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    first = _start(idp, client)
    _answer(idp, client, first["Session"], _wrong(_code(journal, pool, "cat")))
    assert refused(lambda: _answer(idp, client, first["Session"], _code(journal, pool, "cat")))[0] == \
        "NotAuthorizedException"


def test_an_endless_definition_is_cut_off(server, idp, journal):
    pool, client = site(server, f"DefineAuthChallenge={CHALLENGES}:define_endless", *TRIGGERS[1:], **CAT).ids
    step = _start(idp, client)
    for _ in range(MAX_CHALLENGES - 1):
        step = _answer(idp, client, step["Session"], _code(journal, pool, "cat"))
        assert step["ChallengeName"] == "CUSTOM_CHALLENGE"
    assert refused(lambda: _answer(idp, client, step["Session"], _code(journal, pool, "cat")))[0] == \
        "NotAuthorizedException"
    assert len(events(journal, pool, "CreateAuthChallenge_Authentication")) == MAX_CHALLENGES


def test_an_unknown_name_meets_the_same_challenges_and_never_gets_tokens(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    first = _start(idp, client, "nobody")
    assert first["ChallengeName"] == "CUSTOM_CHALLENGE" and first["ChallengeParameters"]["USERNAME"] == "nobody"
    assert refused(lambda: _answer(idp, client, first["Session"], _code(journal, pool, "nobody"), "nobody")) == \
        INCORRECT
    define = events(journal, pool, "DefineAuthChallenge_Authentication")[0]["request"]
    assert define["userNotFound"] is True and define["userAttributes"] == {}


def test_custom_auth_with_srp_proves_the_password_first(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    srp = AWSSRP(username="cat", password=PASSWORD, pool_id=pool, client_id=client, client=idp)
    auth = {**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    challenge = idp.initiate_auth(ClientId=client, AuthFlow="CUSTOM_AUTH", AuthParameters=auth)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    responses = srp.process_challenge(challenge["ChallengeParameters"], auth)
    custom = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="PASSWORD_VERIFIER",
                                           Session=challenge["Session"], ChallengeResponses=responses)
    assert custom["ChallengeName"] == "CUSTOM_CHALLENGE"
    done = _answer(idp, client, custom["Session"], _code(journal, pool, "cat"))
    assert done["AuthenticationResult"]["AccessToken"]
    history = events(journal, pool, "DefineAuthChallenge_Authentication")[-1]["request"]["session"]
    assert [e["challengeName"] for e in history] == ["SRP_A", "PASSWORD_VERIFIER", "CUSTOM_CHALLENGE"]


def _srp_custom_start(idp, pool: str, client: str) -> tuple[dict, dict]:
    """CUSTOM_AUTH begun with SRP_A, the password proven: the challenge that follows it."""
    srp = AWSSRP(username="cat", password=PASSWORD, pool_id=pool, client_id=client, client=idp)
    auth = {**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    challenge = idp.initiate_auth(ClientId=client, AuthFlow="CUSTOM_AUTH", AuthParameters=auth)
    responses = srp.process_challenge(challenge["ChallengeParameters"], auth)
    return idp.respond_to_auth_challenge(ClientId=client, ChallengeName="PASSWORD_VERIFIER",
                                         Session=challenge["Session"], ChallengeResponses=responses), responses


def test_custom_auth_with_srp_asks_the_second_factor_after_the_password(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT, pool_args=("--mfa", "ON")).ids
    setup, _responses = _srp_custom_start(idp, pool, client)
    assert setup["ChallengeName"] == "MFA_SETUP"  # a pool that requires MFA: enrol first
    assert not events(journal, pool, "CreateAuthChallenge_Authentication")
    associated = idp.associate_software_token(Session=setup["Session"])
    totp = pyotp.TOTP(associated["SecretCode"])
    verified = idp.verify_software_token(Session=associated["Session"], UserCode=totp.now())
    custom = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="MFA_SETUP", Session=verified["Session"],
                                           ChallengeResponses={"USERNAME": "cat"})
    assert custom["ChallengeName"] == "CUSTOM_CHALLENGE"
    done = _answer(idp, client, custom["Session"], _code(journal, pool, "cat"))
    assert claims(done["AuthenticationResult"]["IdToken"])["amr"] == ["pwd", "otp", "mfa", "custom"]

    mfa, _responses = _srp_custom_start(idp, pool, client)  # enrolled: the TOTP code comes before the custom challenge
    assert mfa["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    creates = len(events(journal, pool, "CreateAuthChallenge_Authentication"))

    def code(value: str, session: str) -> dict:
        return idp.respond_to_auth_challenge(ClientId=client, ChallengeName="SOFTWARE_TOKEN_MFA", Session=session,
                                             ChallengeResponses={"USERNAME": "cat", "SOFTWARE_TOKEN_MFA_CODE": value})

    later = totp.at(int(time.time()) + 30)  # the enrolment used this step's code
    assert refused(lambda: code("000000" if later != "000000" else "111111", mfa["Session"]))[0] == \
        "CodeMismatchException"
    assert len(events(journal, pool, "CreateAuthChallenge_Authentication")) == creates
    custom = code(later, mfa["Session"])
    assert custom["ChallengeName"] == "CUSTOM_CHALLENGE" and "AuthenticationResult" not in custom
    history = events(journal, pool, "DefineAuthChallenge_Authentication")[-1]["request"]["session"]
    assert [e["challengeName"] for e in history] == ["SRP_A", "PASSWORD_VERIFIER"]
    done = _answer(idp, client, custom["Session"], _code(journal, pool, "cat"))
    assert done["AuthenticationResult"]["AccessToken"]


def test_custom_auth_with_srp_and_a_wrong_password_ends_there(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    srp = AWSSRP(username="cat", password="Wrong-Horse-1!", pool_id=pool, client_id=client, client=idp)
    auth = {**srp.get_auth_params(), "CHALLENGE_NAME": "SRP_A"}
    challenge = idp.initiate_auth(ClientId=client, AuthFlow="CUSTOM_AUTH", AuthParameters=auth)
    responses = srp.process_challenge(challenge["ChallengeParameters"], auth)
    assert refused(lambda: idp.respond_to_auth_challenge(
        ClientId=client, ChallengeName="PASSWORD_VERIFIER", Session=challenge["Session"],
        ChallengeResponses=responses)) == INCORRECT
    assert not events(journal, pool, "CreateAuthChallenge_Authentication")


def test_admin_custom_auth_runs_the_same_flow(server, admin, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    first = admin.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="CUSTOM_AUTH",
                                      AuthParameters={"USERNAME": "cat"})
    done = admin.admin_respond_to_auth_challenge(
        UserPoolId=pool, ClientId=client, ChallengeName="CUSTOM_CHALLENGE", Session=first["Session"],
        ChallengeResponses={"USERNAME": "cat", "ANSWER": _code(journal, pool, "cat")})
    assert done["AuthenticationResult"]["AccessToken"]


def test_without_the_triggers_or_the_client_flow_custom_auth_is_refused(server, idp):
    _pool, bare = site(server, **CAT).ids
    assert refused(lambda: _start(idp, bare)) == NOT_CONFIGURED
    _pool, no_flow = site(server, *TRIGGERS, flows=("ALLOW_USER_SRP_AUTH",), users=("cat",)).ids
    assert refused(lambda: _start(idp, no_flow)) == ("InvalidParameterException",
                                                    "CUSTOM_AUTH flow not enabled for this client")
    _pool, no_create = site(server, TRIGGERS[0], **CAT).ids
    assert refused(lambda: _start(idp, no_create)) == NOT_CONFIGURED


def test_answers_that_are_missing_or_for_another_user_keep_the_session(server, idp, journal):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    first = _start(idp, client)
    missing = refused(lambda: idp.respond_to_auth_challenge(
        ClientId=client, ChallengeName="CUSTOM_CHALLENGE", Session=first["Session"],
        ChallengeResponses={"USERNAME": "cat"}))
    assert missing == ("InvalidParameterException", "Missing required parameter ANSWER")
    assert refused(lambda: _answer(idp, client, first["Session"], "1", username="dog"))[0] == "NotAuthorizedException"
    assert "AuthenticationResult" in _answer(idp, client, first["Session"], _code(journal, pool, "cat"))


def _inputs(server, pool: str, client: str) -> dict:
    return {"endpoint": server.base_url, "poolId": pool, "clientId": client, "username": "cat", "password": PASSWORD}


def _wrong_then_right(journal: Path, pool: str):
    """Answers the scenario's challenges: a wrong code first, then the code the handler made."""
    asked: list[dict] = []

    def answer(question: dict) -> dict:
        asked.append(question["custom_challenge"])
        code = _code(journal, pool, "cat")
        return {"answer": _wrong(code) if len(asked) == 1 else code}
    return answer, asked


def test_amazon_cognito_identity_js_custom_auth_with_srp(server, journal, node_peers):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    answer, asked = _wrong_then_right(journal, pool)
    out = node_peers.run("custom-auth", "identity_js_custom_with_srp", _inputs(server, pool, client), answer=answer)
    assert len(asked) == 2 and asked[0]["delivery"] == "journal"
    assert out["access"] and out["id"]
    history = events(journal, pool, "DefineAuthChallenge_Authentication")[-1]["request"]["session"]
    assert [(e["challengeName"], e["challengeResult"]) for e in history] == [
        ("SRP_A", True), ("PASSWORD_VERIFIER", True), ("CUSTOM_CHALLENGE", False), ("CUSTOM_CHALLENGE", True)]


@pytest.mark.parametrize("flow", ["CUSTOM_WITHOUT_SRP", "CUSTOM_WITH_SRP"])
def test_amplify_custom_auth(server, journal, node_peers, flow):
    pool, client = site(server, *TRIGGERS, **CAT).ids
    answer, asked = _wrong_then_right(journal, pool)
    out = node_peers.run("custom-auth", "amplify_custom", {**_inputs(server, pool, client), "flow": flow},
                         answer=answer)
    assert out.get("done") == "DONE", out
    assert [s["step"] for s in out["steps"]] == ["CONFIRM_SIGN_IN_WITH_CUSTOM_CHALLENGE"] * 2
    assert out["steps"][0]["additionalInfo"]["delivery"] == "journal" and out["access"]
    names = [e["challengeName"] for e in events(journal, pool, "DefineAuthChallenge_Authentication")[-1]
             ["request"]["session"]]
    assert names[:2] == (["SRP_A", "PASSWORD_VERIFIER"] if flow == "CUSTOM_WITH_SRP" else ["CUSTOM_CHALLENGE"] * 2)
