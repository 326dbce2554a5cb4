"""Mail is delivered after the answer, with retries: with the SMTP server stopped, pages
that send codes answer as usual and the mail arrives once the server is back."""
from __future__ import annotations

import logging

import pytest

from broker.store.state import MemoryState
from broker.userpool.outbox import ATTEMPTS, Outbox
from broker.userpool.senders import DeliveryFailed, Message, Sms
from tests.flows.test_code_guessing import PASSWORD, Site, Visitor
from tests.smtp import broker_with_mail, code_in


def test_codes_requested_while_the_mail_server_is_down_arrive_when_it_is_back(tmp_path, redis_url) -> None:
    with broker_with_mail(tmp_path, redis_url, BROKER_DELIVERY_RETRY_SECONDS="1") as (broker, mail):
        site = Site(broker, mail)
        pool, client_id = site.pool()
        broker.cli("user", "create", "--pool", pool, "--username", "erin", "--email", "erin@example.com",
                   "--password", PASSWORD, "--confirmed")
        visitor = Visitor(site, pool, client_id, "127.0.0.1")
        mail.stop()
        signed_up = visitor.post(visitor.page("/signup"), "/signup", username="fred", email="fred@example.com",
                                 password=PASSWORD)
        assert signed_up.status_code == 302 and "/confirmUser" in signed_up.headers["Location"]
        assert visitor.forgot("erin").status_code == 302
        assert visitor.resend("fred").status_code == 200
        log = broker.log.read_text()
        mail.start()

        reset_code = code_in(mail.wait_for("erin@example.com", timeout=30))
        codes = [code_in(mail.wait_for("fred@example.com", timeout=30)) for _ in range(2)]
        # retries may deliver them in any order; the resent code replaced the first
        assert sorted(visitor.confirm("fred", code).status_code for code in codes) == [302, 400]
        assert visitor.reset("erin", reset_code).status_code == 302
    assert "failed (attempt 1)" in log  # tried while the server was down, and not given up


class _Refusing:
    def __init__(self) -> None:
        self.tries = 0

    def send(self, message: Message | Sms) -> None:
        self.tries += 1
        raise DeliveryFailed("connection refused")


def test_a_message_that_never_goes_through_is_given_up_to_the_dead_letter_log(caplog) -> None:
    refusing = _Refusing()
    outbox = Outbox(MemoryState(), "cognate:{outbox:test}", refusing, refusing, retry_seconds=0)
    outbox.send(Message(to="gina@example.com", subject="Your code", text="Your code is 123456."))
    with caplog.at_level(logging.WARNING, logger="broker.outbox"):
        while outbox.deliver_due():
            pass
    assert refusing.tries == ATTEMPTS
    dead = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(dead) == 1 and "gina@example.com" in dead[0].getMessage() and "giving up" in dead[0].getMessage()
    assert "123456" not in caplog.text  # codes never reach the log


@pytest.mark.parametrize("message", [Message(to="h@example.com", subject="s", text="t"), Sms(to="+15550100", text="t")])
def test_mail_and_sms_each_go_to_their_own_sender(message: Message | Sms) -> None:
    got: dict[str, list] = {"mail": [], "sms": []}
    mail = type("Mail", (), {"send": lambda self, m: got["mail"].append(m)})()
    sms = type("Sms", (), {"send": lambda self, m: got["sms"].append(m)})()
    outbox = Outbox(MemoryState(), "cognate:{outbox:test}", mail, sms, retry_seconds=1)
    outbox.send(message)
    assert outbox.deliver_due() and not outbox.deliver_due()
    assert got["mail" if isinstance(message, Message) else "sms"] == [message]
