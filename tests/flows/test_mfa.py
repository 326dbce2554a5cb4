"""TOTP enrolment and sign-in, replay refusal, recovery codes and emailed codes, over real
HTTP; the tokens say how the user signed in (amr)."""
from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urljoin

import pyotp
import pytest
import requests

from tests.conftest import start_broker
from tests.rp import CALLBACK, RelyingParty, form_fields, query_of
from tests.smtp import MailServer, code_in

PASSWORD = "Corr3ct-Horse!"


@pytest.fixture(scope="module")
def mail():
    with MailServer() as server:
        yield server


@pytest.fixture(scope="module")
def server(tmp_path_factory, redis_url, mail):
    tmp = tmp_path_factory.mktemp("mfa")
    broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/mfa.db", redis_url=redis_url, **mail.broker_env())
    yield broker
    broker.stop()
    assert "Traceback" not in broker.log.read_text()


@pytest.fixture
def site(server):
    """A fresh pool with MFA required, one user and one app client."""
    pool = server.pool("--mfa", "ON")
    server.cli("user", "create", "--pool", pool, "--username", "mia", "--password", PASSWORD,
               "--email", "mia@example.com", "--confirmed")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK, "--secret")
    return server, pool, client


def _rp(site) -> RelyingParty:
    broker, pool, client = site
    return RelyingParty(broker.base_url, pool, client["ClientId"], client["ClientSecret"])


def _password_step(rp: RelyingParty):
    params = rp.authorize_params()
    r = rp.browser.get(rp.config["authorization_endpoint"], params=params, allow_redirects=False, timeout=10)
    page = rp.follow(r)
    return params, rp.post_form(page, {"username": "mia", "password": PASSWORD})


def _finish(rp: RelyingParty, params, response) -> dict:
    assert response.status_code == 302 and response.headers["Location"].startswith(CALLBACK), response.text
    answer = query_of(response.headers["Location"])
    assert answer["state"] == params["state"]
    tokens = rp.exchange(answer["code"]).json()
    return rp.verify(tokens["id_token"], audience=rp.client_id) | {"_access": rp.verify(tokens["access_token"])}


def _enrol(rp: RelyingParty) -> tuple[pyotp.TOTP, list[str], dict]:
    params, r = _password_step(rp)
    assert r.status_code == 302 and "/mfaSetup?txn=" in r.headers["Location"]  # no code for the app yet
    page = rp.follow(r)
    secret = re.search(r'class="totp-secret">([A-Z2-7]+)<', page.text).group(1)
    assert 'src="data:image/svg+xml;base64,' in page.text  # the QR code
    totp = pyotp.TOTP(secret)
    wrong = rp.post_form(page, {"code": "000000" if totp.now() != "000000" else "111111"})
    assert wrong.status_code == 400 and "The code is not valid" in wrong.text
    moved = rp.post_form(page, {"code": totp.now()})
    assert moved.status_code == 302 and "/mfaSetup/done?txn=" in moved.headers["Location"]
    shown = rp.follow(moved)
    assert shown.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", shown.text)
    assert len(codes) == 10
    reloaded = rp.follow(moved)  # a reload shows the same codes
    assert re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", reloaded.text) == codes
    claims = _finish(rp, params, rp.post_form(shown, {}))
    return totp, codes, claims


def test_totp_enrolment_then_sign_in_with_a_code_and_replay_refused(site):
    totp, _codes, claims = _enrol(_rp(site))
    assert claims["amr"] == ["pwd", "otp", "mfa"] and claims["_access"]["amr"] == ["pwd", "otp", "mfa"]
    assert abs(claims["auth_time"] - time.time()) < 60

    rp = _rp(site)
    params, r = _password_step(rp)
    assert "/mfa?txn=" in r.headers["Location"]
    page = rp.follow(r)
    assert "authenticator app" in page.text
    next_code = totp.at(time.time() + 30)  # the next time step: not used yet
    claims = _finish(rp, params, rp.post_form(page, {"code": next_code}))
    assert claims["amr"] == ["pwd", "otp", "mfa"]

    rp = _rp(site)
    params, r = _password_step(rp)
    page = rp.follow(r)
    replay = rp.post_form(page, {"code": next_code})
    assert replay.status_code == 400 and "The code is not valid" in replay.text


def test_recovery_code_works_once(site):
    _totp, codes, _claims = _enrol(_rp(site))
    rp = _rp(site)
    params, r = _password_step(rp)
    page = rp.follow(r)
    claims = _finish(rp, params, rp.post_form(page, {"code": codes[3]}))
    assert claims["amr"] == ["pwd", "mfa"]
    rp = _rp(site)
    params, r = _password_step(rp)
    page = rp.follow(r)
    again = rp.post_form(page, {"code": codes[3]})
    assert again.status_code == 400
    params, r = _password_step(rp)
    assert _finish(rp, params, rp.post_form(rp.follow(r), {"code": codes[4]}))["amr"] == ["pwd", "mfa"]


def test_wrong_codes_end_the_login_transaction(site):
    _enrol(_rp(site))
    rp = _rp(site)
    _params, r = _password_step(rp)
    page = rp.follow(r)
    for _ in range(4):
        assert rp.post_form(page, {"code": "12345x"}).status_code == 400
    last = rp.post_form(page, {"code": "12345x"})
    assert last.status_code == 400 and "Too many wrong codes" in last.text
    assert rp.post_form(page, {"code": "123456"}).status_code == 400  # the transaction is gone


def test_emailed_code_as_second_factor_and_admin_reset(server, mail):
    pool = server.pool("--mfa", "OPTIONAL")
    server.cli("user", "create", "--pool", pool, "--username", "mia", "--password", PASSWORD,
               "--email", "mia.otp@example.com", "--confirmed")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK, "--secret")
    site = (server, pool, client)
    rp = _rp(site)
    params, r = _password_step(rp)  # OPTIONAL and nothing enrolled: straight back to the app
    assert _finish(rp, params, r)["amr"] == ["pwd"]

    assert server.cli_json("user", "mfa", "set", "--pool", pool, "--username", "mia", "--email-otp")["EmailOTP"] is True
    rp = _rp(site)
    params, r = _password_step(rp)
    assert "/mfa?txn=" in r.headers["Location"]
    page = rp.follow(r)
    assert "sent a 6-digit code to your email" in page.text
    message = mail.wait_for("mia.otp@example.com")
    code = code_in(message)
    assert rp.post_form(page, {"code": f"{(int(code) + 1) % 10**6:06d}"}).status_code == 400
    claims = _finish(rp, params, rp.post_form(page, {"code": code}))
    assert claims["amr"] == ["pwd", "otp", "mfa"]

    events = server.cli_json("events", "list", "--pool", pool, "--user", "mia")["Events"]
    kinds = [(e["EventType"], e["EventResponse"]) for e in events]
    assert ("SignInMfa", "Pass") in kinds and ("SignInMfa", "Fail") in kinds

    assert server.cli_json("user", "mfa", "reset", "--pool", pool, "--username", "mia")["Reset"] is True
    rp = _rp(site)
    params, r = _password_step(rp)
    assert _finish(rp, params, r)["amr"] == ["pwd"]
    bad = server.cli("user", "mfa", "set", "--pool", pool, "--username", "mia", "--preferred", "TOTP", check=False)
    assert bad.returncode == 2 and "turned on can be the preferred one" in bad.stderr


def _adaptive_site(server, *policy: str):
    pool = server.pool("--mfa", "OPTIONAL")
    server.cli("pool", "update", "--pool", pool, *policy)
    server.cli("user", "create", "--pool", pool, "--username", "mia", "--password", PASSWORD,
               "--email", "mia.risk@example.com", "--confirmed")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK, "--secret")
    return server, pool, client


def test_new_device_is_asked_for_mfa_and_a_remembered_one_is_not(server, mail):
    site = _adaptive_site(server, "--adaptive", "MEDIUM=MFA", "--remember-devices-days", "30")
    laptop = _rp(site)
    params, r = _password_step(laptop)  # a new device from a new network: MEDIUM risk
    assert "/mfa?txn=" in r.headers["Location"]
    page = laptop.follow(r)
    assert "Remember this device for 30 days" in page.text
    code = code_in(mail.wait_for("mia.risk@example.com"))  # no factor enrolled: the code comes by email
    claims = _finish(laptop, params, laptop.post_form(page, {"code": code, "remember": "yes"}))
    assert claims["amr"] == ["pwd", "otp", "mfa"]
    assert laptop.browser.cookies.get("cognate_device")

    laptop.browser.cookies.set("cognate", None)  # signed out of the hosted session, the device cookie stays
    params, r = _password_step(laptop)
    assert _finish(laptop, params, r)["amr"] == ["pwd"]  # remembered: no second step

    phone = _rp(site)  # another device, same network: still MEDIUM
    _params, r = _password_step(phone)
    assert "/mfa?txn=" in r.headers["Location"]

    decisions = [e for e in server.cli_json("events", "list", "--pool", site[1], "--user", "mia")["Events"]
                 if e["EventType"] == "RiskDecision"]
    assert [e["RiskLevel"] for e in decisions] == ["MEDIUM", "LOW", "MEDIUM"]  # newest first
    assert decisions[0]["Details"]["new_device"] is True and decisions[1]["Details"]["remembered_device"] is True


def test_high_risk_sign_in_is_blocked(server):
    site = _adaptive_site(server, "--adaptive", "HIGH=BLOCK", "--lockout-threshold", "20")
    rp = _rp(site)
    for _ in range(3):
        page = rp.follow(rp.authorize())
        assert rp.post_form(page, {"username": "mia", "password": "Wr0ng-Passw0rd!"}).status_code == 400
    time.sleep(1.5)  # the growing delay after three failures
    _params, r = _password_step(rp)  # right password, but new device + new network + failures: HIGH
    assert r.status_code == 400 and "Incorrect username or password." in r.text  # told apart by nobody
    assert "Location" not in r.headers


class _SmsGateway(BaseHTTPRequestHandler):
    """A webhook standing in for the operator's SMS bridge: records each JSON message."""

    received: list[tuple[str | None, dict]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's hook name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _SmsGateway.received.append((self.headers.get("Authorization"), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_code_by_text_message_through_the_http_sender(make_broker, tmp_path, redis_url):
    gateway = ThreadingHTTPServer(("127.0.0.1", 0), _SmsGateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    try:
        broker = make_broker(database_url=f"sqlite:///{tmp_path}/sms.db", redis_url=redis_url,
                             BROKER_SMS_WEBHOOK_URL=f"http://127.0.0.1:{gateway.server_address[1]}/sms",
                             BROKER_SMS_WEBHOOK_TOKEN="s3cret")
        pool = broker.pool("--mfa", "OPTIONAL")
        broker.cli("user", "create", "--pool", pool, "--username", "mia", "--password", PASSWORD, "--confirmed",
                   "--attribute", "phone_number=+14325551212", "--attribute", "phone_number_verified=true")
        refused = broker.cli("user", "mfa", "set", "--pool", pool, "--username", "mia", "--email-otp", check=False)
        assert refused.returncode == 2 and "verified email" in refused.stderr
        broker.cli("user", "mfa", "set", "--pool", pool, "--username", "mia", "--sms-otp")
        client = broker.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK,
                                 "--secret")
        rp = _rp((broker, pool, client))
        params, r = _password_step(rp)
        page = rp.follow(r)
        assert "by text message" in page.text
        deadline = time.time() + 10
        while not _SmsGateway.received and time.time() < deadline:
            time.sleep(0.05)
        authorization, body = _SmsGateway.received[-1]
        assert authorization == "Bearer s3cret" and body["to"] == "+14325551212"
        claims = _finish(rp, params, rp.post_form(page, {"code": code_in(body["message"])}))
        assert claims["amr"] == ["pwd", "otp", "mfa"]
    finally:
        gateway.shutdown()
        gateway.server_close()


def test_user_manages_second_factors_after_signing_in_again(site, mail):
    totp, _codes, _claims = _enrol(_rp(site))
    broker, pool, client = site
    rp = _rp(site)
    params = rp.authorize_params()
    r = rp.browser.get(broker.url(pool, "/mfaSettings"), params=params, allow_redirects=False, timeout=10)
    assert "/login?txn=" in r.headers["Location"]  # always asks for the password again
    r = rp.post_form(rp.follow(r), {"username": "mia", "password": PASSWORD})
    assert "/mfa?txn=" in r.headers["Location"]  # and for the current second factor
    r = rp.post_form(rp.follow(r), {"code": totp.at(time.time() + 30)})
    assert "/mfaSettings/manage?txn=" in r.headers["Location"]
    page = rp.follow(r)
    assert "On, with 10 recovery codes left." in page.text

    refused = rp.post_form(page, {"action": "remove_totp"})  # the pool requires MFA: not the only factor
    assert refused.status_code == 400 and "requires two-step verification" in refused.text
    fresh = rp.post_form(page, {"action": "recovery"})
    codes = re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", rp.follow(fresh).text)
    assert len(codes) == 10 and not set(codes) & set(_codes)
    page = rp.follow(rp.post_form(rp.follow(fresh), {}))
    assert "On, with 10 recovery codes left." in page.text
    assert "Codes by email are on." in rp.post_form(page, {"action": "email_on"}).text
    removed = rp.post_form(page, {"action": "remove_totp"})
    assert removed.status_code == 200 and "The authenticator app was removed." in removed.text
    claims = _finish(rp, params, rp.post_form(removed, {"action": "done"}))
    assert claims["cognito:username"] == "mia"

    rp = _rp(site)  # the next sign-in asks for a code by email
    params, r = _password_step(rp)
    page = rp.follow(r)
    assert "sent a 6-digit code to your email" in page.text
    code = code_in(mail.wait_for("mia@example.com"))
    assert _finish(rp, params, rp.post_form(page, {"code": code}))["amr"] == ["pwd", "otp", "mfa"]


def test_a_password_entered_again_in_a_transaction_keeps_nothing_of_the_last_user(server, mail):
    """mia passes her second factor in a transaction that stays open (second-factor
    settings); the same transaction's sign-in page then takes max's password: max's tokens
    must not claim mia's factor."""
    pool = server.pool("--mfa", "OPTIONAL")
    for name in ("mia", "max"):
        server.cli("user", "create", "--pool", pool, "--username", name, "--password", PASSWORD,
                   "--email", f"{name}@example.com", "--confirmed")
    server.cli("user", "mfa", "set", "--pool", pool, "--username", "mia", "--email-otp")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK, "--secret")
    rp = RelyingParty(server.base_url, pool, client["ClientId"], client["ClientSecret"])
    params = rp.authorize_params()
    login = rp.follow(rp.browser.get(server.url(pool, "/mfaSettings"), params=params, allow_redirects=False,
                                     timeout=10))
    r = rp.post_form(login, {"username": "mia", "password": PASSWORD})
    assert "/mfa?txn=" in r.headers["Location"]
    r = rp.post_form(rp.follow(r), {"code": code_in(mail.wait_for("mia@example.com"))})
    assert "/mfaSettings/manage?txn=" in r.headers["Location"]

    r = rp.post_form(login, {"username": "max", "password": PASSWORD})
    assert "/mfaSettings/manage?txn=" in r.headers["Location"]
    claims = _finish(rp, params, rp.post_form(rp.follow(r), {"action": "done"}))
    assert claims["cognito:username"] == "max"
    assert claims["amr"] == ["pwd"] and claims["_access"]["amr"] == ["pwd"]


def _settings_pool(server, *settings: str) -> tuple[str, RelyingParty]:
    """A pool with MFA optional, vic (codes by email) and an app client; a fresh browser."""
    pool = server.pool("--mfa", "OPTIONAL")
    if settings:
        server.cli("pool", "update", "--pool", pool, *settings)
    server.cli("user", "create", "--pool", pool, "--username", "vic", "--password", PASSWORD,
               "--email", "vic@example.com", "--confirmed")
    server.cli("user", "mfa", "set", "--pool", pool, "--username", "vic", "--email-otp")
    client = server.cli_json("client", "create", "--pool", pool, "--name", "w", "--callback-url", CALLBACK, "--secret")
    return pool, RelyingParty(server.base_url, pool, client["ClientId"], client["ClientSecret"])


def test_a_remembered_device_still_gives_the_second_factor_to_manage_them(server, mail):
    pool, rp = _settings_pool(server, "--remember-devices-days", "30")
    r = rp.post_form(rp.follow(rp.authorize()), {"username": "vic", "password": PASSWORD})
    r = rp.post_form(rp.follow(r), {"code": code_in(mail.wait_for("vic@example.com")), "remember": "yes"})
    assert r.headers["Location"].startswith(CALLBACK)
    rp.browser.cookies.pop("cognate", None)  # the hosted session ends; the device cookie stays
    r = rp.post_form(rp.follow(rp.authorize()), {"username": "vic", "password": PASSWORD})
    assert r.headers["Location"].startswith(CALLBACK)  # a sign-in from the remembered device: no code

    r = rp.browser.get(server.url(pool, "/mfaSettings"), params=rp.authorize_params(), allow_redirects=False,
                       timeout=10)
    r = rp.post_form(rp.follow(r), {"username": "vic", "password": PASSWORD})
    assert "/mfa?txn=" in r.headers["Location"]  # managing the factors asks for one, remembered or not
    r = rp.post_form(rp.follow(r), {"code": code_in(mail.wait_for("vic@example.com"))})
    assert "/mfaSettings/manage?txn=" in r.headers["Location"]


def test_a_transaction_proven_in_another_browser_gives_nothing_here(server, mail):
    """The attacker starts second-factor settings and sends the victim the sign-in link;
    the victim signs in; the attacker's browser, which holds the same transaction id,
    gets neither the settings page nor the sign-in."""
    pool, attacker = _settings_pool(server)
    r = attacker.browser.get(server.url(pool, "/mfaSettings"), params=attacker.authorize_params(),
                             allow_redirects=False, timeout=10)
    planted = urljoin(r.url, r.headers["Location"])
    txn = query_of(planted)["txn"]

    victim = RelyingParty(server.base_url, pool, attacker.client_id, attacker.client_secret)
    r = victim.post_form(victim.browser.get(planted, allow_redirects=False, timeout=10),
                         {"username": "vic", "password": PASSWORD})
    r = victim.post_form(victim.follow(r), {"code": code_in(mail.wait_for("vic@example.com"))})
    assert "/mfaSettings/manage?txn=" in r.headers["Location"]

    manage = server.url(pool, "/mfaSettings/manage")
    seen = attacker.browser.get(manage, params={"txn": txn}, allow_redirects=False, timeout=10)
    assert seen.status_code == 400 and "Your sign-in session has expired." in seen.text and "Codes by email" not in seen.text
    own_form = attacker.browser.get(planted, allow_redirects=False, timeout=10)  # with this browser's CSRF token
    done = attacker.post_form(own_form, {"action": "done"}, action=manage)
    assert done.status_code == 400 and "Your sign-in session has expired." in done.text
    assert "/login?" in attacker.authorize().headers["Location"]  # no hosted session here

    own = victim.post_form(victim.follow(r), {"action": "done"})  # the victim goes on
    assert own.headers["Location"].startswith(CALLBACK)


def test_second_factor_guesses_lock_the_user_however_often_the_password_is_entered(site):
    """The password alone must not buy five fresh guesses at the authenticator each time:
    five wrong codes over two sign-ins lock mia like five wrong passwords would."""
    totp, _codes, _claims = _enrol(_rp(site))
    broker, pool, _client = site
    valid = {totp.at(time.time() + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)
    for guesses in (3, 2):
        rp = _rp(site)
        _params, r = _password_step(rp)
        page = rp.follow(r)
        for _ in range(guesses):
            assert rp.post_form(page, {"code": wrong}).status_code == 400
    rp = _rp(site)
    _params, r = _password_step(rp)
    assert r.status_code == 400 and "Incorrect username or password." in r.text  # locked
    events = broker.cli_json("events", "list", "--pool", pool, "--user", "mia", "--limit", "4")["Events"]
    assert events[0]["EventType"] == "SignIn" and events[0]["Details"]["reason"] == "locked"
    assert "Lockout" in [e["EventType"] for e in events[1:]]

    broker.cli("user", "unlock", "--pool", pool, "--username", "mia")  # clears the second factor's count too
    rp = _rp(site)
    params, r = _password_step(rp)
    next_code = totp.at(time.time() + 30)  # the current one went to the enrolment
    assert _finish(rp, params, rp.post_form(rp.follow(r), {"code": next_code}))["cognito:username"] == "mia"


def test_a_lockout_by_second_factor_ends_like_any_other(site):
    totp, _codes, _claims = _enrol(_rp(site))
    broker, pool, _client = site
    broker.cli("pool", "update", "--pool", pool, "--lockout-seconds", "1")
    valid = {totp.at(time.time() + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222", "333333", "444444", "555555") if code not in valid)
    rp = _rp(site)
    _params, r = _password_step(rp)
    page = rp.follow(r)
    for _ in range(5):
        assert rp.post_form(page, {"code": wrong}).status_code == 400
    _params, r = _password_step(_rp(site))
    assert r.status_code == 400  # locked
    time.sleep(1.5)
    rp = _rp(site)
    params, r = _password_step(rp)
    next_code = totp.at(time.time() + 30)
    assert _finish(rp, params, rp.post_form(rp.follow(r), {"code": next_code}))["cognito:username"] == "mia"


def test_a_double_submitted_first_sign_in_goes_on_in_its_browser(server, mail):
    """Both posts of a double click carry the cookies the page left; the browser goes on
    with the answer to the first, after the second was saved."""
    _pool, rp = _settings_pool(server)
    page = rp.follow(rp.authorize())
    action = urljoin(page.url, re.search(r'<form[^>]*action="([^"]+)"', page.text).group(1).replace("&amp;", "&"))
    answers = []
    for _ in range(2):
        browser = requests.Session()
        browser.cookies.update(rp.browser.cookies)
        answers.append((browser, browser.post(action, data={**form_fields(page.text), "username": "vic",
                                                             "password": PASSWORD}, allow_redirects=False, timeout=10)))
    browser, first = answers[0]
    assert "/mfa?txn=" in first.headers["Location"]
    challenge = browser.get(urljoin(first.url, first.headers["Location"]), allow_redirects=False, timeout=10)
    assert challenge.status_code == 200, challenge.text
