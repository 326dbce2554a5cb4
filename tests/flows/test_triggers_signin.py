"""The triggers of signing in, through the cognito-idp API with boto3 and pycognito against
a live server running Python handlers written as AWS documents them: PreAuthentication
refusing sign-ins at every flow before the password is checked, PostAuthentication told of
each sign-in (and failing it when it fails), and UserMigration moving legacy_* users in at
their first sign-in or forgotten password, after which they sign in with the trigger gone."""
from __future__ import annotations

import pytest
from pycognito.aws_srp import AWSSRP

from tests.aws import admin_idp, cognito_idp, refused
from tests.flows.triggers_common import HANDLERS, PASSWORD, add_user, events, sign_in, site, trigger_broker
from tests.flows.triggers_common import journal  # noqa: F401 (a fixture)
from tests.smtp import MailServer, code_in
from tests.trigger_handlers.signin_legacy import LEGACY_PASSWORD

FLOWS = ("ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH",
         "ALLOW_REFRESH_TOKEN_AUTH")
INCORRECT = ("NotAuthorizedException", "Incorrect username or password.")
DENY = {"ClientMetadata": {"deny": "yes"}}
WEB = {"ClientMetadata": {"app": "web"}}


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, mail, journal):
    with trigger_broker(tmp_path_factory.mktemp("trig-signin"), redis_url, journal, **mail.broker_env()) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


@pytest.fixture(scope="module")
def admin(server):
    return admin_idp(server.base_url, server.cli_json("admin-key", "create"))


def _srp_start(idp, pool: str, client: str, username: str) -> dict:
    srp = AWSSRP(username=username, password=PASSWORD, pool_id=pool, client_id=client, client=idp)
    return idp.initiate_auth(ClientId=client, AuthFlow="USER_SRP_AUTH", AuthParameters=srp.get_auth_params())


SUSPENDED = ("UserLambdaValidationException",
             "PreAuthentication failed with error Your account is suspended, call the help desk.")


def test_pre_authentication_refuses_at_every_flow_before_the_password_is_checked(server, idp, admin, journal):
    pool, client = site(server, f"PreAuthentication={HANDLERS}.signin_gates:pre_authentication", flows=FLOWS).ids
    add_user(server, pool, "sue", "--attribute", "custom:suspended=yes")
    add_user(server, pool, "ann")
    assert refused(lambda: sign_in(idp, client, "sue")) == SUSPENDED
    assert refused(lambda: sign_in(idp, client, "sue", "Wrong-Horse-1!")) == SUSPENDED
    assert refused(lambda: _srp_start(idp, pool, client, "sue")) == SUSPENDED  # at InitiateAuth, as Cognito
    assert refused(lambda: admin.admin_initiate_auth(
        UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": "sue", "PASSWORD": PASSWORD})) == SUSPENDED
    assert _srp_start(idp, pool, client, "ann")["ChallengeName"] == "PASSWORD_VERIFIER"
    assert "AccessToken" in sign_in(idp, client, "ann", **WEB)["AuthenticationResult"]
    seen = events(journal, pool, "PreAuthentication_Authentication")
    assert [e["userName"] for e in seen] == ["sue", "sue", "sue", "sue", "ann", "ann"]
    last = seen[-1]
    assert last["request"]["validationData"] == {"app": "web"} and last["request"]["clientMetadata"] == {}
    assert last["request"]["userNotFound"] is False and last["callerContext"]["clientId"] == client
    attributes = last["request"]["userAttributes"]
    assert attributes["email"] == "ann@example.com" and attributes["cognito:user_status"] == "CONFIRMED"
    assert len(attributes["sub"]) == 36


def test_pre_authentication_runs_for_unknown_names_too_and_they_answer_as_a_wrong_password(server, idp, journal):
    pool, client = site(server, f"PreAuthentication={HANDLERS}.signin_gates:pre_authentication", flows=FLOWS).ids
    add_user(server, pool, "ann")
    unknown = refused(lambda: sign_in(idp, client, "nobody"))
    wrong = refused(lambda: sign_in(idp, client, "ann", "Wrong-Horse-1!"))
    assert unknown == wrong == INCORRECT
    nobody = events(journal, pool, "PreAuthentication_Authentication")[0]
    assert nobody["userName"] == "nobody" and nobody["request"]["userNotFound"] is True
    assert nobody["request"]["userAttributes"] == {}
    # a handler refusing by the app's ClientMetadata refuses any name alike
    assert refused(lambda: sign_in(idp, client, "nobody", **DENY))[0] == "UserLambdaValidationException"
    assert refused(lambda: sign_in(idp, client, "ann", **DENY))[0] == "UserLambdaValidationException"


def test_a_refusal_by_pre_authentication_locks_nobody_out_but_counts_as_a_try(server, idp):
    pool, client = site(server, f"PreAuthentication={HANDLERS}.signin_gates:pre_authentication", flows=FLOWS).ids
    server.cli("pool", "update", "--pool", pool, "--lockout-threshold", "2")
    add_user(server, pool, "ann")
    for _ in range(2):  # as many as would lock her out, were they wrong passwords
        assert refused(lambda: sign_in(idp, client, "ann", **DENY))[0] == "UserLambdaValidationException"
    assert "AccessToken" in sign_in(idp, client, "ann")["AuthenticationResult"]
    for _ in range(3):  # the throttle's free tries: the handler is not called at any pace
        assert refused(lambda: sign_in(idp, client, "ann", **DENY))[0] == "UserLambdaValidationException"
    assert refused(lambda: sign_in(idp, client, "ann", **DENY)) == (
        "NotAuthorizedException", "Password attempts exceeded")


def test_post_authentication_hears_of_each_sign_in_after_its_last_challenge(server, idp, journal):
    pool, client = site(server, f"PostAuthentication={HANDLERS}.signin_gates:post_authentication", flows=FLOWS).ids
    add_user(server, pool, "ann")
    assert refused(lambda: sign_in(idp, client, "ann", "Wrong-Horse-1!")) == INCORRECT
    assert not events(journal, pool, "PostAuthentication_Authentication")
    tokens = sign_in(idp, client, "ann", **WEB)["AuthenticationResult"]
    assert tokens["AccessToken"]
    (event,) = events(journal, pool, "PostAuthentication_Authentication")
    assert event["userName"] == "ann" and event["request"]["newDeviceUsed"] is False
    assert event["request"]["userAttributes"]["email"] == "ann@example.com"
    assert event["request"]["clientMetadata"] == {}  # InitiateAuth's metadata is not for this trigger


def test_post_authentication_comes_after_the_second_factor_with_its_client_metadata(server, idp, mail, journal):
    pool, client = site(server, f"PostAuthentication={HANDLERS}.signin_gates:post_authentication", flows=FLOWS).ids
    server.cli("pool", "update", "--pool", pool, "--mfa", "OPTIONAL")
    add_user(server, pool, "mo", "--attribute", "email_verified=true")
    server.cli("user", "mfa", "set", "--pool", pool, "--username", "mo", "--email-otp", "--preferred", "EMAIL_OTP")
    first = sign_in(idp, client, "mo")
    assert first["ChallengeName"] == "EMAIL_OTP"
    assert not events(journal, pool, "PostAuthentication_Authentication")
    code = code_in(mail.wait_for("mo@example.com"))
    done = idp.respond_to_auth_challenge(ClientId=client, ChallengeName="EMAIL_OTP", Session=first["Session"],
                                         ChallengeResponses={"USERNAME": "mo", "EMAIL_OTP_CODE": code},
                                         ClientMetadata={"step": "mfa"})
    assert done["AuthenticationResult"]["AccessToken"]
    (event,) = events(journal, pool, "PostAuthentication_Authentication")
    assert event["request"]["clientMetadata"] == {"step": "mfa"}


def test_a_failing_post_authentication_fails_the_sign_in_with_its_message(server, idp):
    pool, client = site(server, f"PostAuthentication={HANDLERS}.misbehaving:audit_service_down", flows=FLOWS).ids
    add_user(server, pool, "ann")
    assert refused(lambda: sign_in(idp, client, "ann")) == (
        "UserLambdaValidationException", "PostAuthentication failed with error The audit service is down.")
    server.cli("pool", "update", "--pool", pool, "--trigger", "PostAuthentication=")
    assert "AccessToken" in sign_in(idp, client, "ann")["AuthenticationResult"]


def test_a_legacy_user_migrates_at_the_first_sign_in_then_signs_in_without_the_trigger(server, idp, admin,
                                                                                         journal, mail):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate", flows=FLOWS).ids
    assert refused(lambda: sign_in(idp, client, "legacy_lee", "Not-Her-Password-1")) == INCORRECT
    assert refused(lambda: sign_in(idp, client, "stranger", LEGACY_PASSWORD)) == INCORRECT
    tokens = sign_in(idp, client, "legacy_lee", LEGACY_PASSWORD, **WEB)["AuthenticationResult"]
    assert tokens["AccessToken"]
    user = admin.admin_get_user(UserPoolId=pool, Username="legacy_lee")
    attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED" and attributes["email"] == "legacy_lee@legacy.example"
    assert attributes["custom:origin"] == "legacy"
    migrations = events(journal, pool, "UserMigration_Authentication")
    assert [e["userName"] for e in migrations] == ["legacy_lee", "stranger", "legacy_lee"]
    assert migrations[-1]["passwordSent"] is True and migrations[-1]["request"]["validationData"] == {"app": "web"}
    assert not mail.pending("legacy_lee@legacy.example")  # messageAction SUPPRESS
    server.cli("pool", "update", "--pool", pool, "--trigger", "UserMigration=")
    again = sign_in(idp, client, "legacy_lee", LEGACY_PASSWORD)["AuthenticationResult"]
    assert again["AccessToken"]
    srp = AWSSRP(username="legacy_lee", password=LEGACY_PASSWORD, pool_id=pool, client_id=client, client=idp)
    assert "AccessToken" in srp.authenticate_user()["AuthenticationResult"]  # its SRP verifier was made
    assert len(events(journal, pool, "UserMigration_Authentication")) == 3


def test_an_srp_sign_in_of_an_unknown_name_never_migrates(server, idp, journal):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate", flows=FLOWS).ids
    srp = AWSSRP(username="legacy_sid", password=LEGACY_PASSWORD, pool_id=pool, client_id=client, client=idp)
    assert refused(srp.authenticate_user) == INCORRECT
    assert not events(journal, pool, "UserMigration_Authentication")


def test_admin_password_sign_in_migrates_too(server, admin):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate", flows=FLOWS).ids
    result = admin.admin_initiate_auth(UserPoolId=pool, ClientId=client, AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": "legacy_ada", "PASSWORD": LEGACY_PASSWORD})
    assert result["AuthenticationResult"]["AccessToken"]


def test_a_legacy_user_migrates_at_forgot_password_and_sets_a_new_password(server, idp, mail, journal):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate", flows=FLOWS).ids
    unknown = idp.forgot_password(ClientId=client, Username="stranger")
    sent = idp.forgot_password(ClientId=client, Username="legacy_fay", ClientMetadata={"app": "web"})
    assert sent["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    assert unknown["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"  # the stand-in: nothing told
    (event,) = [e for e in events(journal, pool, "UserMigration_ForgotPassword") if e["userName"] == "legacy_fay"]
    assert event["passwordSent"] is False and event["request"]["clientMetadata"] == {"app": "web"}
    code = code_in(mail.wait_for("legacy_fay@legacy.example"))
    assert refused(lambda: sign_in(idp, client, "legacy_fay", LEGACY_PASSWORD)) == INCORRECT  # no password yet
    idp.confirm_forgot_password(ClientId=client, Username="legacy_fay", ConfirmationCode=code,
                                Password="Brand-N3w-Horse!")
    server.cli("pool", "update", "--pool", pool, "--trigger", "UserMigration=")
    assert "AccessToken" in sign_in(idp, client, "legacy_fay", "Brand-N3w-Horse!")["AuthenticationResult"]


def test_a_migration_that_requires_a_reset_answers_password_reset_required(server, idp, mail):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate_needing_reset", flows=FLOWS).ids
    assert refused(lambda: sign_in(idp, client, "legacy_ray", LEGACY_PASSWORD)) == (
        "PasswordResetRequiredException", "Password reset required for the user")
    idp.forgot_password(ClientId=client, Username="legacy_ray")  # the user exists now: no new migration
    code = code_in(mail.wait_for("legacy_ray@legacy.example"))
    idp.confirm_forgot_password(ClientId=client, Username="legacy_ray", ConfirmationCode=code,
                                Password="Brand-N3w-Horse!")
    assert "AccessToken" in sign_in(idp, client, "legacy_ray", "Brand-N3w-Horse!")["AuthenticationResult"]


def test_a_handler_answering_nonsense_migrates_nobody(server, idp, admin):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate_nonsense", flows=FLOWS).ids
    assert refused(lambda: sign_in(idp, client, "legacy_ned", LEGACY_PASSWORD)) == INCORRECT
    assert refused(lambda: admin.admin_get_user(UserPoolId=pool, Username="legacy_ned"))[0] == \
        "UserNotFoundException"


def test_migration_and_pre_authentication_both_run_in_that_order(server, idp, journal):
    pool, client = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate",
                        f"PreAuthentication={HANDLERS}.signin_gates:pre_authentication", flows=FLOWS).ids
    assert "AccessToken" in sign_in(idp, client, "legacy_max", LEGACY_PASSWORD)["AuthenticationResult"]
    (pre,) = events(journal, pool, "PreAuthentication_Authentication")
    assert pre["request"]["userNotFound"] is False
    assert pre["request"]["userAttributes"]["email"] == "legacy_max@legacy.example"
