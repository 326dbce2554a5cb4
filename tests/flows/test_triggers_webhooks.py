"""Webhook targets: a real HTTP server on loopback receives PreTokenGeneration events signed
with the pool's trigger secret (``broker pool trigger-secret``), over one kept-alive
connection; its answer is the returned event, and its refusals, silences and nonsense fail
the sign-in as a Lambda's would."""
from __future__ import annotations

import time

import pytest

from broker.sealing import Sealer
from broker.store import repo
from broker.store.db import Database
from broker.triggers.settings import SECRET_PURPOSE
from tests.aws import cognito_idp, refused
from tests.conftest import free_port
from tests.flows.triggers_common import (
    Receiver, claims, sign_in, site, trigger_broker, trigger_events, with_ann,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with trigger_broker(tmp_path_factory.mktemp("webhooks"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def _add_claim(event: dict) -> tuple[int, dict]:
    """The handler's work, done by the receiver: a claim naming the event's source."""
    event["response"]["claimsOverrideDetails"] = {"claimsToAddOrOverride": {"hook": event["triggerSource"]},
                                                  "claimsToSuppress": ["email"]}
    return 200, event


def _secret(server, pool: str, *rotate: str) -> str:
    return server.cli_json("pool", "trigger-secret", "--pool", pool, *rotate)["TriggerSecret"]


def test_the_receiver_gets_a_signed_event_and_its_answer_is_applied(server, idp):
    s = with_ann(site(server))
    with Receiver(_add_claim) as hook:
        s.trigger(hook.url)
        result = sign_in(idp, s.client_id, ClientMetadata={"plan": "pro"})["AuthenticationResult"]
        id_token = claims(result["IdToken"])
        assert id_token["hook"] == "TokenGeneration_Authentication" and "email" not in id_token
        [got] = hook.received
    assert got.signed_by(_secret(server, s.pool))
    assert abs(int(got.headers["X-Cognate-Timestamp"]) - time.time()) < 60
    assert got.headers["Content-Type"] == "application/json"
    event = got.event
    assert event["userPoolId"] == s.pool and event["userName"] == "ann" and event["version"] == "1"
    assert event["request"]["clientMetadata"] == {"plan": "pro"}
    assert trigger_events(server, s.pool, 1)[0]["Details"]["target"] == "webhook"


def test_a_rotated_secret_signs_the_next_events(server, idp):
    s = with_ann(site(server))
    with Receiver(_add_claim) as hook:
        s.trigger(hook.url)
        old = _secret(server, s.pool)
        sign_in(idp, s.client_id)
        new = _secret(server, s.pool, "--rotate")
        assert new != old and _secret(server, s.pool) == new
        sign_in(idp, s.client_id)
        first, second = hook.received
    assert first.signed_by(old) and not first.signed_by(new)
    assert second.signed_by(new) and not second.signed_by(old)


def test_events_share_one_kept_alive_connection(server, idp):
    s = with_ann(site(server))
    with Receiver(_add_claim) as hook:
        s.trigger(hook.url)
        for _ in range(4):
            sign_in(idp, s.client_id)
        idp.initiate_auth(ClientId=s.client_id, AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={
            "REFRESH_TOKEN": sign_in(idp, s.client_id)["AuthenticationResult"]["RefreshToken"]})
        assert len(hook.received) == 6
        assert len({got.connection for got in hook.received}) == 1


def test_a_refusal_with_an_error_message_is_the_handlers_error(server, idp):
    s = with_ann(site(server))
    with Receiver(lambda event: (403, {"errorMessage": "No tokens on Sundays", "errorType": "Error"})) as hook:
        s.trigger(hook.url)
        assert refused(lambda: sign_in(idp, s.client_id)) == (
            "UserLambdaValidationException", "PreTokenGeneration failed with error No tokens on Sundays.")
    for body in (b"upstream exploded: secret internals", b'{"message": "internal"}'):  # not passed on
        with Receiver(lambda event: (500, body)) as hook:
            s.trigger(hook.url)
            assert refused(lambda: sign_in(idp, s.client_id)) == (
                "UserLambdaValidationException", "PreTokenGeneration failed with error HTTP 500.")


def test_nonsense_silence_and_absence_fail_the_sign_in_cleanly(server, idp):
    s = with_ann(site(server))
    with Receiver(lambda event: (200, b"<html>hello</html>")) as hook:
        s.trigger(hook.url)
        assert refused(lambda: sign_in(idp, s.client_id)) == ("InvalidLambdaResponseException",
                                                              "Unrecognizable lambda output")
    with Receiver(lambda event: (time.sleep(6), (200, event))[1]) as hook:
        s.trigger(hook.url)
        started = time.monotonic()
        code, message = refused(lambda: sign_in(idp, s.client_id))
        assert code == "UnexpectedLambdaException" and "timed out" in message
        assert time.monotonic() - started < 8
    s.trigger(f"http://127.0.0.1:{free_port()}/hooks")  # nobody listens there
    code, message = refused(lambda: sign_in(idp, s.client_id))
    assert code == "UnexpectedLambdaException" and message.startswith("PreTokenGeneration invocation failed")
    outcomes = [e["Details"]["outcome"] for e in trigger_events(server, s.pool, 3)]
    assert outcomes == ["crashed", "timed_out", "invalid"]
    with Receiver(_add_claim) as hook:
        s.trigger(hook.url)
        assert claims(sign_in(idp, s.client_id)["AuthenticationResult"]["IdToken"])["hook"]


def _seal_elsewhere(server, pool: str) -> str:
    """Give the pool a trigger secret sealed by another deployment (as after the server's
    secret key changed): this one cannot read it. Returns it as stored."""
    db = Database(server.env["DATABASE_URL"], Sealer(server.env["BROKER_SECRET_KEY"]))
    try:
        with db.session() as session:
            row = repo.get_pool(session, pool)
            row.trigger_secret = Sealer("another-deployment-key-0123456789abcdef").seal(
                SECRET_PURPOSE, b"their-secret", bound_to=pool)
            return row.trigger_secret
    finally:
        db.dispose()


def test_a_secret_this_deployment_cannot_read_signs_nothing_and_is_not_replaced(server, idp):
    s = with_ann(site(server))
    with Receiver(_add_claim) as hook:
        s.triggers(f"PreTokenGeneration={hook.url}", f"CustomEmailSender={hook.url}")
        sealed = _seal_elsewhere(server, s.pool)
        time.sleep(1.5)  # the servers' cached configuration
        code, message = refused(lambda: sign_in(idp, s.client_id))
        assert code == "UnexpectedLambdaException" and "trigger secret" in message, message
        idp.forgot_password(ClientId=s.client_id, Username="ann")  # its code would go encrypted under the secret
        time.sleep(2)
        assert hook.received == []
    db = Database(server.env["DATABASE_URL"], Sealer(server.env["BROKER_SECRET_KEY"]))
    try:
        with db.session() as session:
            assert repo.get_pool(session, s.pool).trigger_secret == sealed  # never made anew in passing
    finally:
        db.dispose()
