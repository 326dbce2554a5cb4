"""An admin's change of email or phone number waits for the code sent to the NEW address
(Cognito's AttributesRequireVerificationBeforeUpdate): until then tokens carry the old
verified value. Over real HTTP with a real SMTP server and an SMS webhook on loopback, the
CLI run in this process against the server's database and Redis."""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.conftest import Broker
from tests.flows.test_accounts import expect_callback, expect_redirect, post_login, start, tokens_for
from tests.flows.test_security import error_of
from tests.rp import CALLBACK, RelyingParty
from tests.smtp import MailServer, broker_with_mail, code_in
from tests.test_cli import _refused
from tests.test_security_cli import run, run_all, run_json

PASSWORD = "Corr3ct-Horse!"
INVALID = "Invalid verification code provided, please try again."


@dataclass
class SmsGateway:
    """The operator's SMS bridge: a webhook on loopback that keeps every JSON message."""

    received: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"

    def wait_for(self, to: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.received:
                if message["to"] == to:
                    return message["message"]
            time.sleep(0.05)
        raise AssertionError(f"no text message to {to}; received {self.received!r}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Site:
    broker: Broker
    mail: MailServer
    sms: SmsGateway
    pool: str
    client_id: str

    def rp(self) -> RelyingParty:
        """A fresh browser: no hosted session, so every sign-in shows the form."""
        return RelyingParty(self.broker.base_url, self.pool, self.client_id)

    def user(self, username: str, *attributes: str) -> None:
        run_json(self.broker, "user", "create", "--pool", self.pool, "--username", username, "--password", PASSWORD,
                 "--confirmed", *(a for name_value in attributes for a in ("--attribute", name_value)))

    def update(self, username: str, *attributes: str) -> dict:
        return run_json(self.broker, "user", "update", "--pool", self.pool, "--username", username,
                        *(a for name_value in attributes for a in ("--attribute", name_value)))

    def listed(self, username: str) -> dict:
        users = run_json(self.broker, "user", "list", "--pool", self.pool)["Users"]
        return next(u for u in users if u["Username"] == username)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    sms = SmsGateway()
    try:
        with broker_with_mail(tmp_path_factory.mktemp("attributes"), redis_url,
                              BROKER_SMS_WEBHOOK_URL=sms.url) as (broker, mail):
            pool = run_json(broker, "pool", "create", "--name", "attributes")["Id"]
            client = run_json(broker, "client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
            yield Site(broker, mail, sms, pool, client["ClientId"])
    finally:
        sms.close()


def attributes_of(user: dict) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in user["Attributes"]}


def sign_in_to_verification(site: Site, username: str) -> tuple[RelyingParty, dict, str, requests.Response]:
    """Password → the verification page; returns (browser, authorize params, verifier, page)."""
    rp = site.rp()
    params, verifier, login_page = start(rp)
    r = post_login(rp, login_page, username, PASSWORD)
    expect_redirect(r, "/verifyAttribute")
    page = rp.follow(r)
    assert page.status_code == 200, page.text
    return rp, params, verifier, page


def skip_action(page: requests.Response) -> str:
    actions = re.findall(r'<form[^>]*action="([^"]+)"', page.text)
    assert len(actions) == 2 and actions[1].endswith("/verifyAttribute/skip"), actions
    return actions[1].replace("&amp;", "&")


def test_new_email_is_used_only_once_the_code_sent_to_it_is_entered(site: Site) -> None:
    site.user("vera", "email=vera@example.com")
    out = site.update("vera", "email=Vera.New@example.com")
    assert out == {"Username": "vera", "PendingVerification": [{"Name": "email", "Value": "vera.new@example.com"}]}
    mail = site.mail.wait_for_mail("vera.new@example.com")
    assert mail.subject == "Your verification code"
    code_in(mail.text)
    assert site.mail.pending("vera@example.com") == []
    listed = site.listed("vera")
    assert {k: v for k, v in attributes_of(listed).items() if k != "sub"} == \
        {"email": "vera@example.com", "email_verified": "true"}
    assert listed["PendingVerification"] == out["PendingVerification"]

    # a sign-in asks for the code; skipping it signs in with the old, verified email
    rp, params, verifier, page = sign_in_to_verification(site, "vera")
    assert "Verify your new email address" in page.text and "vera.new@example.com" in page.text
    code_in(site.mail.wait_for("vera.new@example.com"))  # a fresh code for this sign-in
    claims = tokens_for(rp, expect_callback(rp.post_form(page, {}, action=skip_action(page)), params), verifier, params)
    assert (claims["email"], claims["email_verified"]) == ("vera@example.com", True)

    # the next sign-in asks again: a wrong code is refused, the right one switches the email
    rp, params, verifier, page = sign_in_to_verification(site, "vera")
    code = code_in(site.mail.wait_for("vera.new@example.com"))
    wrong = rp.post_form(page, {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400 and "Location" not in wrong.headers and error_of(wrong) == INVALID
    claims = tokens_for(rp, expect_callback(rp.post_form(page, {"code": code}), params), verifier, params)
    assert (claims["email"], claims["email_verified"]) == ("vera.new@example.com", True)

    listed = site.listed("vera")
    assert attributes_of(listed)["email"] == "vera.new@example.com" and "PendingVerification" not in listed
    events = [(e["EventType"], e["EventResponse"]) for e in
              run_json(site.broker, "events", "list", "--pool", site.pool, "--user", "vera")["Events"]]
    assert events.index(("VerifyUserAttribute", "Pass")) < events.index(("VerifyUserAttribute", "Fail")) \
        < events.index(("AdminUpdateUserAttributes", "Pass"))
    rp = site.rp()  # nothing waits any more: straight back to the app
    params, _verifier, login_page = start(rp)
    expect_callback(post_login(rp, login_page, "vera", PASSWORD), params)


def test_admin_verifies_by_cli_while_other_attributes_change_at_once(site: Site) -> None:
    site.user("walt", "email=walt@example.com", "given_name=Walt")
    out = site.update("walt", "given_name=Walter", "email=walt.new@example.com")
    assert out["PendingVerification"] == [{"Name": "email", "Value": "walt.new@example.com"}]
    assert attributes_of(site.listed("walt"))["given_name"] == "Walter"
    code = code_in(site.mail.wait_for("walt.new@example.com"))

    verify = ("user", "verify-attribute", "--pool", site.pool, "--username", "walt", "--attribute", "email")
    _refused([run(site.broker, *verify, "--code", f"{(int(code) + 1) % 10**6:06d}")], [((), "invalid code for email")])
    assert run_json(site.broker, *verify, "--code", code) == {"Username": "walt", "Attribute": "email", "Verified": True}
    rp = site.rp()
    params, verifier, login_page = start(rp)
    claims = tokens_for(rp, expect_callback(post_login(rp, login_page, "walt", PASSWORD), params), verifier, params)
    assert (claims["email"], claims["email_verified"], claims["given_name"]) == ("walt.new@example.com", True, "Walter")


def test_new_phone_number_gets_its_code_by_text_message(site: Site) -> None:
    site.user("pat", "phone_number=+14325551212", "phone_number_verified=true")
    assert site.update("pat", "phone_number=+14325550000")["PendingVerification"] == \
        [{"Name": "phone_number", "Value": "+14325550000"}]
    code = code_in(site.sms.wait_for("+14325550000"))
    assert attributes_of(site.listed("pat"))["phone_number"] == "+14325551212"
    run_json(site.broker, "user", "verify-attribute", "--pool", site.pool, "--username", "pat",
             "--attribute", "phone_number", "--code", code)
    attributes = attributes_of(site.listed("pat"))
    assert (attributes["phone_number"], attributes["phone_number_verified"]) == ("+14325550000", "true")


def test_bad_attribute_changes_exit_2_with_one_line_and_write_nothing(site: Site) -> None:
    site.user("ida", "email=ida@example.com", "given_name=Ida")
    before = site.listed("ida")
    update = ("user", "update", "--pool", site.pool, "--username", "ida")
    verify = ("user", "verify-attribute", "--pool", site.pool, "--username", "ida")
    cases = [
        ((*update, "--attribute", "email_verified=false"), "email_verified changes only by verifying"),
        ((*update, "--attribute", "given_name=Idris", "--attribute", "phone_number=12345"),
         "Enter the phone number with its country code"),
        ((*update, "--attribute", "email=not-an-address"), "Enter a valid email address."),
        ((*update, "--attribute", "pending:email=ida.new@example.com"), "unknown attribute 'pending:email'"),
        ((*update, "--attribute", "given_name"), "--attribute must be name=value"),
        ((*update[:-1], "ghost", "--attribute", "given_name=X"), "no user 'ghost'"),
        (("user", "update", "--pool", "local_XXXXXXXXX", "--username", "ida", "--attribute", "given_name=X"),
         "no user pool"),
        ((*update,), "Missing option '--attribute'"),
        ((*verify, "--attribute", "given_name", "--code", "123456"), "Invalid value for '--attribute'"),
        ((*verify, "--attribute", "email", "--code", "123456"), "no email change waits for verification"),
    ]
    _refused(run_all(site.broker, [args for args, _ in cases]), cases)
    without_redis = Broker(site.broker.base_url, {k: v for k, v in site.broker.env.items() if k != "REDIS_URL"})
    _refused([run(without_redis, *verify, "--attribute", "email", "--code", "123456")], [((), "no REDIS_URL")])
    assert site.listed("ida") == before
    assert site.update("ida", "email=ida@example.com") == {"Username": "ida", "PendingVerification": []}
    assert site.mail.pending("ida@example.com") == []
