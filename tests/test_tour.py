"""The README's five-minute tour, done as a newcomer does it: a fresh clone of this commit,
``scripts/demo`` started in it (its own bootstrap, its own .venv and var/), and every
```` ```sh tour ```` block of the clone's README typed, as printed, into one bash in the
clone. The one step that needs a person, signing in on the hosted page, is done in
Chromium with the URL the tour printed; the address it lands on is what the person pastes
at the tour's prompt."""
from __future__ import annotations

import json
import os
import queue
import re
import stat
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Error as PlaywrightError, Page

from tests.browser import browser  # noqa: F401 (a fixture)
from tests.conftest import ROOT, _answers, free_port
from tests.rp import CALLBACK

TOUR_BLOCK = re.compile(r"^```sh tour\n(.*?)^```$", re.M | re.S)
#: A first start bootstraps: a virtualenv and `pip install .` (about 25 s here).
BOOTSTRAP_SECONDS = 600


def tour_blocks(readme: str) -> list[str]:
    return TOUR_BLOCK.findall(readme)


def newcomer_env() -> dict[str, str]:
    """This environment without what the test suite adds: no settings, no virtualenv."""
    drop = ("BROKER_", "DATABASE_URL", "REDIS_URL", "XDG_DATA_HOME", "TEST_", "VIRTUAL_ENV", "PYTHONPATH", "BASH_ENV")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


@dataclass
class Demo:
    checkout: Path
    port: int
    log: Path
    proc: subprocess.Popen

    def banner(self) -> str:
        return self.log.read_text()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """``scripts/demo --port P`` in a fresh clone of HEAD, running until the module ends."""
    home = tmp_path_factory.mktemp("newcomer")
    checkout = home / "cognate"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(checkout)], check=True, timeout=120)
    subprocess.run(["git", "-C", str(checkout), "checkout", "-q", "--detach", head], check=True, timeout=120)
    port, log = free_port(), home / "demo.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(["scripts/demo", "--port", str(port)], cwd=checkout, env=newcomer_env(),
                                stdout=out, stderr=subprocess.STDOUT)
    running = Demo(checkout, port, log, proc)
    deadline = time.time() + BOOTSTRAP_SECONDS
    while not ("password:" in running.banner() and _answers("127.0.0.1", port)):
        assert proc.poll() is None and time.time() < deadline, f"the demo did not start:\n{running.banner()[-3000:]}"
        time.sleep(0.2)
    yield running
    proc.terminate()
    proc.wait(30)
    assert "Traceback" not in running.banner(), running.banner()[-3000:]


class Terminal:
    """One bash reading what is typed into it, as a person's second terminal."""

    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(["bash"], cwd=cwd, env=newcomer_env(), text=True, bufsize=1,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: queue.Queue[str] = queue.Queue()
        self.typed = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    def type(self, text: str, answer: str | None = None, timeout: float = 120) -> str:
        """Type ``text`` (and ``answer`` at its prompt); what it printed."""
        assert self.proc.stdin is not None
        self.typed += 1
        done = f"__typed_{self.typed}__"
        self.proc.stdin.write(text.rstrip("\n") + "\n" + (f"{answer}\n" if answer is not None else "") +
                              f"echo {done}\n")
        self.proc.stdin.flush()
        out: list[str] = []
        deadline = time.time() + timeout
        while (line := self.lines.get(timeout=max(0.1, deadline - time.time()))) != f"{done}\n":
            out.append(line)
        return "".join(out)

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(30)
        if self.proc.stdout:
            self.proc.stdout.close()


def _sign_in(page: Page, url: str) -> tuple[str, bool]:
    """What a person does with the URL the tour printed: open it, sign in when asked. The
    address the browser lands on (nothing listens there: an error page with that address,
    which Chromium reloads by itself now and then: the one with this URL's state), and
    whether the form was shown."""
    state = parse_qs(urlsplit(url).query)["state"][0]
    with page.expect_request(lambda r: r.url.startswith(f"{CALLBACK}?") and parse_qs(urlsplit(r.url).query).get(
            "state") == [state]) as landed:
        try:
            page.goto(url)
            asked = True
        except PlaywrightError:  # straight to the callback, where nothing listens
            asked = False
        if asked:
            page.get_by_label("Username", exact=True).fill("demo")
            page.get_by_label("Password", exact=True).fill("Demo-Passw0rd!")
            page.get_by_role("button", name="Sign in", exact=True).click(no_wait_after=True)
    return landed.value.url, asked


def _take_the_tour(demo: Demo, chromium: Browser) -> tuple[list[str], list[bool], Terminal]:
    blocks = tour_blocks((demo.checkout / "README.md").read_text())
    outputs: list[str] = []
    forms: list[bool] = []
    terminal = Terminal(demo.checkout)
    context = chromium.new_context()
    try:
        page = context.new_page()
        for block in blocks:
            answer = None
            if block.lstrip().startswith("read "):
                url = re.findall(r"^(http\S+/oauth2/authorize\?\S+)$", "".join(outputs), re.M)[-1]
                time.sleep(1.1)  # a person takes longer than the server's one-second configuration cache
                answer, asked = _sign_in(page, url)
                forms.append(asked)
            outputs.append(terminal.type(block, answer))
    finally:
        context.close()
    return outputs, forms, terminal


def _json_in(text: str) -> dict:
    return json.loads(text[text.index("{"):text.rindex("}") + 1])


def _decoded(text: str) -> dict:
    """The claims ``broker token decode`` printed (its indented JSON, after whatever came before)."""
    return json.loads(text[text.rindex('{\n  "header"'):])["claims"]


def test_the_readmes_tour_runs_as_printed_against_a_fresh_clones_demo(demo, browser):
    blocks = tour_blocks((demo.checkout / "README.md").read_text())
    assert len(blocks) >= 10 and sum(b.lstrip().startswith("read ") for b in blocks) == 2
    outputs, forms, terminal = _take_the_tour(demo, browser)
    transcript = "\n".join(f"$ {b}\n{o}" for b, o in zip(blocks, outputs))
    try:
        values = dict(line.split("=", 1) for line in terminal.type('echo "POOL=$POOL"; echo "CLIENT=$CLIENT"; '
                                                                   'echo "SPA=$SPA"').split())
    finally:
        terminal.close()
    assert forms == [True, False], transcript  # the second sign-in rides on the hosted session
    work = demo.checkout

    def output_of(command: str) -> str:
        return next(o for b, o in zip(blocks, outputs) if command in b)

    tokens = json.loads((work / "tokens.json").read_text())
    assert {"id_token", "access_token", "refresh_token"} <= tokens.keys(), transcript
    id_claims = _decoded(output_of('decode --verify "$(field tokens.json id_token)"'))
    assert id_claims["token_use"] == "id" and id_claims["cognito:username"] == "demo", transcript
    assert id_claims["aud"] == values["CLIENT"] and id_claims["iss"] == f"http://localhost:{demo.port}/{values['POOL']}"
    user = _json_in(output_of("oauth2/userInfo\"; echo"))
    assert user["email"] == "demo@example.com" and user["username"] == "demo" and user["sub"] == id_claims["sub"]
    refreshed = json.loads((work / "refreshed.json").read_text())
    assert refreshed["access_token"] != tokens["access_token"], transcript
    revoked = [line for line in output_of("oauth2/revoke").splitlines() if line]
    assert revoked[0] == "200" and json.loads(revoked[1])["error"] == "invalid_grant" and revoked[2] == "401", transcript

    spa = json.loads((work / "spa-tokens.json").read_text())
    assert "id_token" in spa and "access_token" in spa, transcript
    access = _decoded(output_of('decode --verify "$(field spa-tokens.json access_token)"'))
    assert access["client_id"] == values["SPA"] != values["CLIENT"] and access["token_use"] == "access"
    assert "Traceback" not in transcript and "error:" not in transcript, transcript


def test_the_demo_prints_one_banner_and_writes_the_tours_values(demo):
    text = demo.banner()
    env_file = demo.checkout / "var" / "demo.env"
    assert text.count("Cognate at ") == 1 and text.count("Demo pool (") == 1, text
    assert not re.search(r"^\s*WARNING: |Warning: ", text, re.M), text  # pip's and the build's, among others
    assert f"\n  data: {demo.checkout / 'var'}\n" in text
    assert f"in another terminal: . {env_file})" in text
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
    assert values["BASE"] == f"http://localhost:{demo.port}"
    assert f"  pool id:        {values['POOL']}\n" in text and f"  client id:      {values['CLIENT']}\n" in text
    assert f"issuer: http://localhost:{demo.port}/{values['POOL']}" in text


def test_the_checkouts_broker_finds_the_demos_data_from_another_directory(demo, tmp_path):
    broker = demo.checkout / ".venv" / "bin" / "broker"
    listed = subprocess.run([str(broker), "pool", "list", "--json"], cwd=tmp_path, env=newcomer_env(),
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert [p["Name"] for p in json.loads(listed.stdout)["UserPools"]] == ["demo"]
    assert list(tmp_path.iterdir()) == []  # no ./var made here
