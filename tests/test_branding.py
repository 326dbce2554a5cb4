"""Branding input is hostile until proven otherwise: every refusal names its reason, exits
2 from the CLI, and leaves the stored branding as it was."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest
import requests

from broker.branding.css import sanitize
from broker.branding.images import check_logo
from broker.errors import InvalidInput


def png(width: int = 4, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(width: int = 3, height: int = 5) -> bytes:
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00" + b"\x01" * 9 + sof + b"\xff\xd9"


COGNITO_CSS = """
/* written for Cognito */
.submitButton-customizable { background-color: #1a73e8; font-size: 14px; }
.submitButton-customizable:hover { background-color: rgb(10, 90, 200); }
.banner-customizable { padding: 25px 0px 25px 0px; background-color: lightgray; }
.inputField-customizable:focus { border-color: #1a73e8; }
.label-customizable, .legalText-customizable { font-weight: 400; color: #333 }
"""


def test_cognito_stylesheet_is_accepted_and_rewritten():
    out = sanitize(COGNITO_CSS)
    assert ".submitButton-customizable:hover {\n  background-color: rgb(10, 90, 200);\n}" in out
    assert ".label-customizable, .legalText-customizable {" in out
    assert "written for Cognito" not in out  # comments are dropped


@pytest.mark.parametrize("css,reason", [
    ("@import url(http://evil.example/x.css);", "at-rules"),
    (".submitButton-customizable { background: url(http://evil.example/x.png) }", "url()"),
    (".submitButton-customizable { width: expression(alert(1)) }", "expression"),
    (".submitButton-customizable { behavior: url(x.htc) }", "url()"),
    (".submitButton-customizable { -moz-binding: none }", "-moz-binding"),
    (".submitButton-customizable { color: red }</style><script>alert(1)</script>", "markup"),
    (".submitButton-customizable { color: \\72 ed }", "escapes"),
    ("body { color: red }", "not one of the customizable classes"),
    (".submitButton-customizable > a { color: red }", "child selectors"),
    (".submitButton-customizable { position: fixed }", "property 'position'"),
    (".submitButton-customizable { color: red; } }", "not a list of"),
    (".submitButton-customizable:before { content: 'x' }", "pseudo-class"),
    (".submitButton-customizable { color: red /* unterminated", "unterminated comment"),
    (".x-customizable { color: red }", "not one of the customizable classes"),
    (".submitButton-customizable { color: " + "a" * 200_000 + " }", "larger than"),
])
def test_hostile_css_is_refused_with_its_reason(css, reason):
    with pytest.raises(InvalidInput, match=None) as exc:
        sanitize(css)
    assert reason in exc.value.message


def test_logos_are_recognised_by_content():
    assert check_logo(png()) == "image/png"
    assert check_logo(jpeg()) == "image/jpeg"
    for bad, reason in [
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "only PNG and JPEG"),
        (b"GIF89a" + b"\x00" * 40, "only PNG and JPEG"),
        (png()[:40], "not a complete PNG"),
        (b"\xff\xd8\xff\xe0garbage", "not a complete JPEG"),
        (png() + b"\x00" * (101 * 1024), "larger than 100 KB"),
        (png(width=0), "out of range"),
    ]:
        with pytest.raises(InvalidInput) as exc:
            check_logo(bad)
        assert reason in exc.value.message


def test_cli_refusals_leave_stored_branding_unchanged(shared_broker, tmp_path: Path):
    pool = shared_broker.pool()
    good_css, good_logo = tmp_path / "ok.css", tmp_path / "logo.png"
    good_css.write_text(".submitButton-customizable { background-color: rgb(1, 2, 3); }")
    good_logo.write_bytes(png())
    before = shared_broker.cli_json("ui", "set", "--pool", pool, "--css", str(good_css), "--logo", str(good_logo))
    attempts = {
        "import.css": ("@import url(http://evil.example/a.css);", "--css", "at-rules"),
        "url.css": (".banner-customizable { background: url(http://evil.example/a.png) }", "--css", "url()"),
        "expr.css": (".banner-customizable { width: expression(alert(1)) }", "--css", "expression"),
        "script.css": ("</style><script>alert(1)</script>", "--css", "markup"),
        "big.css": (".banner-customizable { color: red }\n" * 5000, "--css", "larger than"),
        "fake.png": (b"GIF89a not a png", "--logo", "only PNG and JPEG"),
        "logo.svg": (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "--logo", "only PNG and JPEG"),
        "huge.png": (png() + b"\x00" * (120 * 1024), "--logo", "larger than 100 KB"),
    }
    for name, (content, option, reason) in attempts.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        result = shared_broker.cli("ui", "set", "--pool", pool, option, str(path), check=False)
        assert result.returncode == 2, name
        assert len(result.stderr.strip().splitlines()) == 1 and reason in result.stderr, (name, result.stderr)
    for args, reason in [(("--theme", "nope"), "no theme"), (("--client", "nosuchclient", "--css", str(good_css)), "no app client"),
                         ((), "at least one")]:
        result = shared_broker.cli("ui", "set", "--pool", pool, *args, check=False)
        assert result.returncode == 2 and reason in result.stderr
    after = shared_broker.cli_json("ui", "get", "--pool", pool)["UICustomization"]
    assert {k: after[k] for k in ("CSS", "CSSVersion", "ImageVersion")} == {k: before[k] for k in ("CSS", "CSSVersion", "ImageVersion")}


def test_assets_are_served_with_their_type_and_cached_by_version(shared_broker, tmp_path: Path):
    pool = shared_broker.pool()
    (tmp_path / "a.css").write_text(".submitButton-customizable { color: red }")
    (tmp_path / "a.png").write_bytes(png())
    shared_broker.cli("ui", "set", "--pool", pool, "--css", str(tmp_path / "a.css"), "--logo", str(tmp_path / "a.png"))
    info = shared_broker.cli_json("ui", "get", "--pool", pool)["UICustomization"]
    logo = requests.get(shared_broker.url(pool, f"/ui/ALL/logo?v={info['ImageVersion']}"), timeout=10)
    assert logo.status_code == 200 and logo.content == png()
    assert logo.headers["Content-Type"] == "image/png" and logo.headers["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in logo.headers["Cache-Control"]
    css = requests.get(shared_broker.url(pool, f"/ui/ALL/style.css?v={info['CSSVersion']}"), timeout=10)
    assert css.headers["Content-Type"].startswith("text/css") and "color: red" in css.text
    stale = requests.get(shared_broker.url(pool, "/ui/ALL/style.css?v=old"), timeout=10)
    assert "immutable" not in stale.headers["Cache-Control"]
    assert requests.get(shared_broker.url(pool, "/ui/nosuch/logo"), timeout=10).status_code == 404
    assert shared_broker.cli_json("ui", "reset", "--pool", pool)["Reset"] is True
    assert requests.get(shared_broker.url(pool, "/ui/ALL/logo"), timeout=10).status_code == 404
    assert json.dumps(shared_broker.cli_json("ui", "get", "--pool", pool)["UICustomization"]["CSS"]) == "null"
