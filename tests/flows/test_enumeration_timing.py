"""No page tells whether a username exists, by its answer or by its time: sign-in,
sign-up, forgot password, resend and confirm are timed over real HTTP for 20 names that
exist and 20 that do not, tried in turns, and their medians compared (as an attacker on
the same network would measure them)."""
from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from tests.flows.test_code_guessing import PASSWORD, Site, Visitor
from tests.smtp import broker_with_mail

pytestmark = pytest.mark.timing  # medians of response times: run alone (scripts/test)

TRIES = 20
MAX_MEDIAN_GAP = 0.010  # seconds, on loopback


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    with broker_with_mail(tmp_path_factory.mktemp("timing"), redis_url, BROKER_TRUSTED_PROXIES="1") as (broker, mail):
        yield Site(broker, mail)


def shape(r: requests.Response, username: str) -> tuple[int, str, str]:
    """What an answer says, without what differs on every request (tokens, ids, the name)."""
    location = re.sub(r"(txn|username)=[^&]*", r"\1=", r.headers.get("Location", ""))
    text = re.sub(r'(value|href|action)="[^"]*"|txn=[\w-]+', "", r.text).replace(username, "NAME")
    return r.status_code, location, text


def compare(name: str, visitor: Callable[[str], Visitor], existing: list[str], unknown: list[str],
            attempt: Callable[[Visitor, str], tuple[float, tuple]]) -> None:
    """Time ``attempt`` for each name, existing and unknown in turns (each from an address of
    its own, so that no limit steps in); their answers must match and their medians be close."""
    times: dict[bool, list[float]] = {True: [], False: []}
    answers: dict[bool, set] = {True: set(), False: set()}
    for i in range(TRIES):
        for exists in ((True, False) if i % 2 else (False, True)):
            username = (existing if exists else unknown)[i]
            elapsed, answer = attempt(visitor(f"2001:db8:{int(exists)}:{len(name)}::{i + 1}"), username)
            times[exists].append(elapsed)
            answers[exists].add(answer)
    assert answers[True] == answers[False] and len(answers[True]) == 1, f"{name}: the answers differ"
    gap = abs(statistics.median(times[True]) - statistics.median(times[False]))
    assert gap < MAX_MEDIAN_GAP, (f"{name}: median {statistics.median(times[True]) * 1000:.1f} ms for existing "
                                  f"names, {statistics.median(times[False]) * 1000:.1f} ms for unknown ones")


def timed(visitor: Visitor, page_path: str, path: str, **data: str) -> tuple[float, tuple]:
    page = visitor.page(page_path)
    started = time.perf_counter()
    r = visitor.post(page, path, **data)
    return time.perf_counter() - started, shape(r, data["username"])


def test_no_page_tells_whether_a_username_exists(site: Site) -> None:
    pool, client_id = site.pool()

    def visitor(ip: str) -> Visitor:
        return Visitor(site, pool, client_id, ip)

    confirmed = [f"known{i}" for i in range(TRIES)]
    for username in confirmed:
        site.broker.cli("user", "create", "--pool", pool, "--username", username, "--email",
                        f"{username}@example.com", "--password", PASSWORD, "--confirmed")
    unconfirmed = [f"new{i}" for i in range(TRIES)]

    # Sign-up: a taken name (the owner gets a notice) against a new one (which stays, unconfirmed).
    compare("sign-up", visitor, confirmed, unconfirmed, lambda v, u: timed(
        v, "/signup", "/signup", username=u, email=f"{u}@example.org", password=PASSWORD))
    unknown = [f"ghost{i}" for i in range(TRIES)]
    compare("sign-in", visitor, confirmed, unknown, lambda v, u: timed(
        v, "/forgotPassword", "/login", username=u, password="Wr0ng-Passw0rd!"))
    compare("forgot password", visitor, confirmed, unknown, lambda v, u: timed(
        v, "/forgotPassword", "/forgotPassword", username=u))
    compare("resend", visitor, unconfirmed, unknown, lambda v, u: timed(v, "/confirmUser", "/resendCode", username=u))
    compare("confirm", visitor, unconfirmed, unknown, lambda v, u: timed(
        v, "/confirmUser", "/confirmUser", username=u, code="000000"))
