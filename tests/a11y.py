"""Accessibility checks with axe-core (https://github.com/dequelabs/axe-core) in a real page.

axe-core is fetched once with npm into ``<repo>/.cache/axe`` (git-ignored, never vendored).
It is run with ``page.evaluate``: the DevTools protocol is not governed by the page's CSP
(``script-src 'self'``), which would block an injected ``<script>``. Only violations of
impact "serious" or "critical" fail a test; the rest are WCAG advice, not defects.

    def test_login_is_accessible(axe: Axe, page: Page) -> None:
        page.goto(url)
        axe.check(page)
"""
from __future__ import annotations

import fcntl
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.conftest import ROOT

AXE_DIR = ROOT / ".cache" / "axe"
AXE_JS = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = frozenset({"serious", "critical"})
RUN = """async () => {
  const results = await axe.run(document, {resultTypes: ['violations']});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
  }));
}"""


def _install() -> None:
    """``npm install`` into the cache, once even when several test processes ask at the same time."""
    AXE_DIR.mkdir(parents=True, exist_ok=True)
    with open(AXE_DIR / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if AXE_JS.is_file():
            return
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to fetch axe-core for the accessibility tests")
        result = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AXE_DIR),
                                 "axe-core@4"], capture_output=True, text=True, timeout=300)
        if result.returncode != 0 or not AXE_JS.is_file():
            pytest.fail(f"npm install axe-core failed ({result.returncode}):\n{result.stderr[-2000:]}")


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"[{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
        lines += [f"    {n['target']}: {(n['summary'] or '').replace(chr(10), ' ')}" for n in v["nodes"]]
    return "\n".join(lines)


@dataclass(frozen=True)
class Axe:
    source: str

    def violations(self, page: Page) -> list[dict[str, Any]]:
        """Every axe violation on the page as it is now."""
        if not page.evaluate("() => typeof window.axe === 'object'"):
            page.evaluate(self.source)
        return page.evaluate(RUN)

    def check(self, page: Page) -> None:
        """Fail on serious or critical violations, listing each with the nodes it was found on."""
        found = [v for v in self.violations(page) if v["impact"] in BLOCKING]
        if found:
            print(f"axe on {page.url}:\n{describe(found)}")
        assert not found, f"axe found serious accessibility problems on {page.url}:\n{describe(found)}"


@pytest.fixture(scope="session")
def axe() -> Axe:
    if not AXE_JS.is_file():
        _install()
    return Axe(AXE_JS.read_text(encoding="utf-8"))
