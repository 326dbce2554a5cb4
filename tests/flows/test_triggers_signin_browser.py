"""The sign-in triggers as a user meets them on the hosted pages, in a real Chromium over a
live server running Python handlers: PreAuthentication's refusal shown on the sign-in page
in the handler's words, PostAuthentication told of the hosted sign-in, and a legacy_* user
moved in by UserMigration at the first sign-in and at a forgotten password (the code read
from the mail aiosmtpd received), who then signs in with the trigger gone. Every page logs
no console error and no CSP violation."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import Tab, browser, tab  # noqa: F401 (browser is a fixture)
from tests.conftest import Broker, start_broker
from tests.rp import CALLBACK, RelyingParty, pkce, query_of
from tests.flows.triggers_common import HANDLERS, PASSWORD, add_user, events, handler_env, site
from tests.flows.triggers_common import journal  # noqa: F401 (a fixture)
from tests.smtp import MailServer, code_in
from tests.trigger_handlers.signin_legacy import LEGACY_PASSWORD


@pytest.fixture(scope="module")
def mail() -> Iterator[MailServer]:
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str, mail: MailServer,
           journal: Path) -> Iterator[Broker]:
    tmp = tmp_path_factory.mktemp("trig-hosted")
    broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/hosted.db", redis_url=redis_url,
                          **handler_env(journal), **mail.broker_env())
    try:
        yield broker
    finally:
        broker.stop()
    log = broker.log.read_text() if broker.log and broker.log.exists() else ""
    assert "Traceback" not in log, f"server logged a traceback:\n{log[-4000:]}"


def _open_login(t: Tab, rp: RelyingParty) -> tuple[dict[str, str], str]:
    verifier, challenge = pkce()
    params = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256")
    t.open(f"{rp.config['authorization_endpoint']}?{urlencode(params)}")
    assert urlsplit(t.page.url).path == f"/{rp.pool_id}/login", t.page.url
    return params, verifier


def _submit_login(t: Tab, username: str, password: str) -> None:
    t.page.get_by_label("Username", exact=True).fill(username)
    t.page.get_by_label("Password", exact=True).fill(password)
    t.page.get_by_role("button", name="Sign in", exact=True).click()


def _back_at_the_app(t: Tab, rp: RelyingParty, params: dict[str, str], verifier: str, username: str) -> None:
    t.page.wait_for_url(f"{CALLBACK}?**")
    answer = query_of(t.callbacks[-1])
    assert answer["state"] == params["state"], answer
    r = rp.exchange(answer["code"], verifier)
    assert r.status_code == 200, r.text
    assert rp.verify(r.json()["id_token"], audience=rp.client_id)["cognito:username"] == username


def test_pre_authentication_refusal_is_shown_on_the_sign_in_page(browser: Browser, server: Broker,  # noqa: F811
                                                                 journal: Path) -> None:
    rp = site(server, f"PreAuthentication={HANDLERS}.signin_gates:pre_authentication",
              f"PostAuthentication={HANDLERS}.signin_gates:post_authentication", flows=None, users=("ann",)).rp()
    add_user(server, rp.pool_id, "sue", "--attribute", "custom:suspended=yes")
    with tab(browser) as t:
        _open_login(t, rp)
        with t.page.expect_response(lambda r: r.request.method == "POST" and "/login" in r.url) as answer:
            _submit_login(t, "sue", PASSWORD)
        assert answer.value.status == 400
        expect(t.page.get_by_role("alert")).to_have_text(
            "PreAuthentication failed with error Your account is suspended, call the help desk.")
        t.assert_clean(status=400)
        assert t.callbacks == []
        expect(t.page.get_by_label("Username", exact=True)).to_have_value("sue")
        _submit_login(t, "ann", PASSWORD)  # the same page signs another user in
        t.page.wait_for_url(f"{CALLBACK}?**")
    assert not [e for e in events(journal, rp.pool_id, "PostAuthentication_Authentication") if e["userName"] == "sue"]
    (post,) = events(journal, rp.pool_id, "PostAuthentication_Authentication")
    assert post["userName"] == "ann" and post["callerContext"]["clientId"] == rp.client_id
    (pre,) = [e for e in events(journal, rp.pool_id, "PreAuthentication_Authentication") if e["userName"] == "ann"]
    assert pre["request"]["validationData"] == {} and pre["request"]["userNotFound"] is False


def test_a_legacy_user_migrates_at_the_hosted_sign_in_then_signs_in_without_the_trigger(
        browser: Browser, server: Broker, journal: Path) -> None:  # noqa: F811
    rp = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate", flows=None).rp()
    with tab(browser) as t:
        params, verifier = _open_login(t, rp)
        _submit_login(t, "legacy_lou", "Not-His-Password-1")
        expect(t.page.get_by_role("alert")).to_have_text("Incorrect username or password.")
        t.assert_clean(status=400)
        _submit_login(t, "legacy_lou", LEGACY_PASSWORD)
        _back_at_the_app(t, rp, params, verifier, "legacy_lou")
    assert len(events(journal, rp.pool_id, "UserMigration_Authentication")) == 2
    server.cli("pool", "update", "--pool", rp.pool_id, "--trigger", "UserMigration=")
    with tab(browser) as t:
        params, verifier = _open_login(t, rp)
        _submit_login(t, "legacy_lou", LEGACY_PASSWORD)
        _back_at_the_app(t, rp, params, verifier, "legacy_lou")


def test_a_legacy_user_migrates_at_the_hosted_forgot_password_page(browser: Browser, server: Broker,  # noqa: F811
                                                                   mail: MailServer, journal: Path) -> None:
    rp = site(server, f"UserMigration={HANDLERS}.signin_legacy:migrate", flows=None).rp()
    new_password = "Brand-N3w-Horse!"
    with tab(browser) as t:
        _open_login(t, rp)
        t.page.get_by_role("link", name="Forgot your password?").click()
        t.assert_clean()
        t.page.get_by_label("Username", exact=True).fill("legacy_liv")
        t.page.get_by_role("button", name="Reset my password").click()
        t.page.wait_for_url(f"**/{rp.pool_id}/confirmForgotPassword?**")
        t.assert_clean()
        code = code_in(mail.wait_for("legacy_liv@legacy.example"))
        t.page.get_by_label("Code", exact=True).fill(code)
        t.page.get_by_label("New password", exact=True).fill(new_password)
        t.page.get_by_label("Confirm new password", exact=True).fill(new_password)
        t.page.get_by_role("button", name="Change password").click()
        t.page.wait_for_url(f"**/{rp.pool_id}/login?**")
        t.assert_clean()
    (event,) = events(journal, rp.pool_id, "UserMigration_ForgotPassword")
    assert event["userName"] == "legacy_liv" and event["passwordSent"] is False
    server.cli("pool", "update", "--pool", rp.pool_id, "--trigger", "UserMigration=")
    with tab(browser) as t:
        params, verifier = _open_login(t, rp)
        _submit_login(t, "legacy_liv", new_password)
        _back_at_the_app(t, rp, params, verifier, "legacy_liv")


def test_the_sign_in_a_confirmed_sign_up_finishes_passes_pre_authentication(browser: Browser,  # noqa: F811
                                                                            server: Broker, mail: MailServer,
                                                                            journal: Path) -> None:
    rp = site(server, f"PreAuthentication={HANDLERS}.signin_gates:pre_authentication", flows=None).rp()
    with tab(browser) as t:
        _open_login(t, rp)
        t.page.get_by_role("link", name="Sign up").click()
        t.page.get_by_label("Username", exact=True).fill("blocked_bo")
        t.page.get_by_label("Email", exact=True).fill("bo@example.com")
        t.page.get_by_label("Password", exact=True).fill(PASSWORD)
        t.page.get_by_role("button", name="Sign up", exact=True).click()
        t.page.wait_for_url(f"**/{rp.pool_id}/confirmUser?**")
        t.page.get_by_label("Verification code", exact=True).fill(code_in(mail.wait_for("bo@example.com")))
        with t.page.expect_response(lambda r: r.request.method == "POST" and "/confirmUser" in r.url) as answer:
            t.page.get_by_role("button", name="Confirm account", exact=True).click()
        assert answer.value.status == 400
        expect(t.page.get_by_text("PreAuthentication failed with error Accounts named blocked_ may not sign in.")) \
            .to_be_visible()
        t.assert_clean(status=400)
        assert t.callbacks == []
    (pre,) = events(journal, rp.pool_id, "PreAuthentication_Authentication")
    assert pre["userName"] == "blocked_bo" and pre["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
