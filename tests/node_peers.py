"""JavaScript client libraries as test peers: amazon-cognito-identity-js and Amplify v6 from
the npm registry, run by the machine's Node against a live Cognate server.

The versions are pinned by ``tests/node/package-lock.json``; ``npm ci`` installs them once per
lock into ``<repo>/.cache/node-peers/<hash of the lock>/`` (git-ignored), and the scenario
scripts of ``tests/node/`` are copied beside that ``node_modules`` (a folder per version of
the scripts), where Node's module resolution finds the libraries. A scenario prints JSON
lines (``tests/node/protocol.mjs``): questions the test answers on stdin, then its result.

    def test_sign_in(node_peers: NodePeers, ...) -> None:
        out = node_peers.run("identity-js", "sign_in", {"endpoint": broker.base_url, ...})
        totp = node_peers.run("amplify", "totp_setup_then_sign_in", inputs,
                              answer=lambda ask: {"code": pyotp.TOTP(ask["totp"]).now()})
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

SOURCE = ROOT / "tests" / "node"
CACHE = ROOT / ".cache" / "node-peers"
MANIFESTS = ("package.json", "package-lock.json")
INSTALLED = ".installed"

#: Answers one ``{"ask": ...}`` of a scenario with the JSON object written back to it.
Answer = Callable[[dict[str, Any]], dict[str, Any]]


def _digest(paths: list[Path]) -> str:
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return sha.hexdigest()[:16]


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is needed to run the JavaScript client libraries (scripts/bootstrap --test installs it)")
    return found


def install() -> Path:
    """The folder whose ``node_modules`` holds the locked packages: ``npm ci`` runs once per
    lock, even when several test processes ask at the same time (an exclusive file lock)."""
    home = CACHE / _digest([SOURCE / "package-lock.json"])
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / INSTALLED).is_file():
            return home
        for name in MANIFESTS:
            shutil.copyfile(SOURCE / name, home / name)
        result = subprocess.run([_tool("npm"), "ci", "--no-audit", "--no-fund"], cwd=home, capture_output=True,
                                text=True, timeout=600)
        if result.returncode != 0:
            pytest.fail(f"npm ci in {home} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        (home / INSTALLED).touch()
    return home


def scripts(home: Path) -> Path:
    """The scenario scripts copied into ``home`` (moved into place whole, so that a process
    never runs a half-copied folder); a new folder whenever the scripts change."""
    sources = sorted(SOURCE.glob("*.mjs"))
    target = home / f"scripts-{_digest(sources)}"
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(dir=home, prefix=".scripts-"))
        for source in sources:
            shutil.copyfile(source, staging / source.name)
        try:
            os.rename(staging, target)
        except OSError:  # another process put the same scripts in place first
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _no_questions(question: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError(f"the scenario asked {question!r} and the test has no answer")


@dataclass(frozen=True)
class NodePeers:
    """Runs scenarios of ``tests/node/*.mjs`` with ``node``."""

    node: str
    scripts: Path

    def run(self, library: str, scenario: str, inputs: dict[str, Any], answer: Answer = _no_questions,
            timeout: float = 60) -> Any:
        """Run ``library``'s ``scenario`` with ``inputs``, answer its questions, and return its
        result; a scenario that fails (an exception, a non-zero exit, no result within
        ``timeout`` seconds) fails the test with Node's stderr."""
        args = [self.node, str(self.scripts / "run.mjs"), library, scenario, json.dumps(inputs)]
        stderr: list[str] = []
        with subprocess.Popen(args, cwd=self.scripts, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as proc:
            drain = threading.Thread(target=lambda: stderr.extend(proc.stderr or ()), daemon=True)
            drain.start()
            watchdog = threading.Timer(timeout, proc.kill)
            watchdog.start()
            try:
                result = self._converse(proc, answer)
                code = proc.wait()
            finally:
                watchdog.cancel()
                proc.kill()
                proc.wait()
                drain.join(5)
        if code != 0 or result is None:
            pytest.fail(f"node {library} {scenario} exited {code} without a result:\n{''.join(stderr)[-6000:]}")
        return result[0]

    @staticmethod
    def _converse(proc: subprocess.Popen, answer: Answer) -> tuple[Any] | None:
        """Read the scenario's JSON lines until its result, writing an answer to each question."""
        assert proc.stdout is not None and proc.stdin is not None
        for line in proc.stdout:
            message = json.loads(line)
            if "result" in message:
                return (message["result"],)
            proc.stdin.write(json.dumps(answer(message["ask"])) + "\n")
            proc.stdin.flush()
        return None


@pytest.fixture(scope="session")
def node_peers() -> NodePeers:
    node = _tool("node")
    return NodePeers(node, scripts(install()))
