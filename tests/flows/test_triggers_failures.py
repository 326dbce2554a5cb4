"""A trigger that raises, sleeps past Cognito's 5 s or kills its process fails only the
operation it ran for, with Cognito's error, and leaves nothing half done: the server
answers other requests meanwhile and runs the next trigger as if nothing had happened.
Every invocation is audited (``Trigger``, with its duration and outcome) and counted in
/metrics."""
from __future__ import annotations

import threading
import time

import pytest
import requests

from tests.aws import cognito_idp, refused
from tests.flows.triggers_common import (
    HANDLERS, PASSWORD, claims, hosted_tokens, metric, sign_in, site, trigger_broker, trigger_events, with_ann,
)
from tests.rp import pkce

GOOD = f"{HANDLERS}.tokens_claims:lambda_handler"
BAD = f"{HANDLERS}.misbehaving"
REFUSED = ("UserLambdaValidationException", "PreTokenGeneration failed with error Sign-ups are closed today.")


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url):
    with trigger_broker(tmp_path_factory.mktemp("triggerfailures"), redis_url) as broker:
        yield broker


@pytest.fixture(scope="module")
def idp(server):
    return cognito_idp(server.base_url)


def _works_again(idp, s) -> None:
    """The pool's trigger set back to a good handler: the next sign-in has its claims."""
    s.trigger(GOOD)
    assert claims(sign_in(idp, s.client_id)["AuthenticationResult"]["IdToken"])["tier"] == "gold"


def test_a_handler_that_raises_fails_the_sign_in_with_its_message(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{BAD}:refuse")
    assert refused(lambda: sign_in(idp, s.client_id)) == REFUSED
    [event] = trigger_events(server, s.pool, 1)
    assert event["EventResponse"] == "Fail" and event["Username"] == "ann"
    details = event["Details"]
    assert details["trigger"] == "PreTokenGeneration" and details["source"] == "TokenGeneration_Authentication"
    assert details["outcome"] == "raised" and details["target"] == "python" and details["duration_ms"] >= 0
    _works_again(idp, s)
    latest = trigger_events(server, s.pool, 2)[0]
    assert latest["EventResponse"] == "Pass" and latest["Details"]["outcome"] == "returned"


def test_a_handler_that_sleeps_past_five_seconds_times_out_while_the_server_serves_others(server, idp):
    s, other = with_ann(site(server)), with_ann(site(server))
    s.trigger(f"{BAD}:hang")
    other.trigger(GOOD)
    outcome: dict = {}

    def slow() -> None:
        started = time.monotonic()
        outcome["error"] = refused(lambda: sign_in(idp, s.client_id))
        outcome["took"] = time.monotonic() - started

    thread = threading.Thread(target=slow)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()  # meanwhile: another pool's sign-in, its trigger included
    assert claims(sign_in(idp, other.client_id)["AuthenticationResult"]["IdToken"])["tier"] == "gold"
    assert requests.get(f"{server.base_url}/health", timeout=5).status_code == 200
    assert time.monotonic() - started < 3
    thread.join(30)
    code, message = outcome["error"]
    assert code == "UnexpectedLambdaException" and message.startswith("PreTokenGeneration invocation failed")
    assert "timed out" in message and 4.8 < outcome["took"] < 9
    assert trigger_events(server, s.pool, 1)[0]["Details"]["outcome"] == "timed_out"
    _works_again(idp, s)


def test_a_handler_that_kills_its_process_fails_only_its_sign_in(server, idp):
    s = with_ann(site(server))
    s.trigger(f"{BAD}:die")
    code, message = refused(lambda: sign_in(idp, s.client_id))
    assert code == "UnexpectedLambdaException" and message.startswith("PreTokenGeneration invocation failed")
    assert trigger_events(server, s.pool, 1)[0]["Details"]["outcome"] == "crashed"
    _works_again(idp, s)
    s.trigger(f"{BAD}:die")  # and again: each death costs one invocation
    assert refused(lambda: sign_in(idp, s.client_id))[0] == "UnexpectedLambdaException"
    _works_again(idp, s)


def test_a_failed_refresh_leaves_the_refresh_token_as_it_was_at_every_door(server, idp):
    s = with_ann(site(server))  # a public client: its refresh tokens rotate
    s.trigger(GOOD)
    first = sign_in(idp, s.client_id)["AuthenticationResult"]["RefreshToken"]
    s.trigger(f"{BAD}:refuse")
    assert refused(lambda: idp.initiate_auth(ClientId=s.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                             AuthParameters={"REFRESH_TOKEN": first})) == REFUSED
    assert refused(lambda: idp.get_tokens_from_refresh_token(ClientId=s.client_id, RefreshToken=first)) == REFUSED
    rp = s.rp()
    r = rp.refresh(first)
    assert r.status_code == 400, r.text
    assert r.json() == {"error": "invalid_request", "error_description": REFUSED[1]}
    s.trigger(GOOD)  # the token was never rotated: no reuse is detected, it still refreshes
    again = idp.initiate_auth(ClientId=s.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                              AuthParameters={"REFRESH_TOKEN": first})["AuthenticationResult"]
    assert again["RefreshToken"] != first and claims(again["IdToken"])["tier"] == "gold"
    outcomes = [e["Details"]["outcome"] for e in trigger_events(server, s.pool, 5)]
    assert outcomes == ["returned", "raised", "raised", "raised", "returned"]


def test_a_failed_code_exchange_answers_oauth_json_and_spends_the_code(server):
    s = with_ann(site(server))
    s.trigger(f"{BAD}:refuse")
    rp = s.rp()
    verifier, challenge = pkce()
    _params, code = rp.sign_in("ann", PASSWORD, code_challenge=challenge, code_challenge_method="S256")
    r = rp.exchange(code, verifier)
    assert r.status_code == 400 and r.json() == {"error": "invalid_request", "error_description": REFUSED[1]}
    assert rp.exchange(code, verifier).json()["error"] == "invalid_grant"
    s.trigger(GOOD)
    assert claims(hosted_tokens(s)["id_token"])["source"] == "TokenGeneration_HostedAuth"
    assert [e["Details"]["source"] for e in trigger_events(server, s.pool, 2)] == ["TokenGeneration_HostedAuth"] * 2


def test_each_invocation_is_counted_in_metrics(server, idp):
    def count(outcome: str) -> float:
        return metric(server, "cognate_trigger_invocations_total", trigger="PreTokenGeneration", outcome=outcome)

    durations = metric(server, "cognate_trigger_duration_seconds_count", trigger="PreTokenGeneration")
    returned, raised = count("returned"), count("raised")
    s = with_ann(site(server))
    s.trigger(GOOD)
    sign_in(idp, s.client_id)
    s.trigger(f"{BAD}:refuse")
    refused(lambda: sign_in(idp, s.client_id))
    assert (count("returned"), count("raised")) == (returned + 1, raised + 1)
    assert metric(server, "cognate_trigger_duration_seconds_count", trigger="PreTokenGeneration") == durations + 2
