"""The hosted UI speaks Spanish, French, German and Portuguese: every catalog covers every
message of a fresh extraction (babel.cfg), and the language follows ``lang=``, then the
``cognate_lang`` cookie, then ``Accept-Language``, as Cognito's hosted UI does."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask, render_template_string

from broker import i18n
from tests.rp import CALLBACK, RelyingParty, pkce

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "broker" / "translations"
CATALOGS = [lang for lang in i18n.LANGUAGES if lang != "en"]
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrs%]")
SIGN_IN_HEADING = {
    "en": "Sign in with your username and password",
    "es": "Inicie sesión con su nombre de usuario y contraseña",
    "fr": "Connectez-vous avec votre nom d",
    "de": "Melden Sie sich mit Ihrem Benutzernamen und Passwort an",
}


def _extract() -> dict[str, tuple[str, ...]]:
    """msgid → all its source strings (singular, plural), as ``pybabel extract -F babel.cfg`` sees them."""
    with open(ROOT / "babel.cfg", encoding="utf-8") as fp:
        method_map, options_map = parse_mapping_cfg(fp, "babel.cfg")
    keywords = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}

    def only_sources(dirpath: str) -> bool:
        parts = Path(dirpath).relative_to(ROOT).parts
        return not parts or (parts[0] in {"broker", "templates"} and not parts[-1].startswith((".", "_")))

    found: dict[str, tuple[str, ...]] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords=keywords, directory_filter=only_sources):
        forms = (message,) if isinstance(message, str) else tuple(m for m in message if m)
        if forms and forms[0]:
            found[forms[0]] = forms
    return found


@pytest.fixture(scope="module")
def extracted() -> dict[str, tuple[str, ...]]:
    found = _extract()
    assert len(found) > 50, "extraction found almost nothing: is babel.cfg right?"
    return found


def _placeholders(text: str) -> Counter[str]:
    return Counter(m for m in PLACEHOLDER.findall(text) if m != "%%")


def test_template_lists_every_extracted_message(extracted):
    with open(TRANSLATIONS / "messages.pot", "rb") as fp:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fp) if m.id}
    assert not sorted(set(extracted) - template), "messages.pot is stale: rerun pybabel extract (see babel.cfg)"


@pytest.mark.parametrize("lang", CATALOGS)
def test_catalog_translates_every_message_with_the_same_placeholders(lang, extracted):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as fp:
        catalog = read_po(fp, locale=lang)
    compiled = i18n.PoDomain().catalog(lang)  # what the server serves, compiled in memory
    problems = []
    for msgid, forms in extracted.items():
        message = catalog.get(msgid)
        strings = [] if message is None else ([message.string] if isinstance(message.string, str)
                                              else list(message.string))
        if message is None or message.fuzzy or not all(s.strip() for s in strings):
            problems.append(f"untranslated: {msgid!r}")
            continue
        expected = _placeholders(forms[0])
        for text in strings:
            if len(forms) == 1:
                ok = _placeholders(text) == expected
            else:  # a plural form may leave out the count, never add a name
                ok = set(_placeholders(text)) <= set(expected) | set(_placeholders(forms[1]))
            if not ok:
                problems.append(f"placeholders differ: {msgid!r} → {text!r}")
        if len(forms) == 1 and compiled.gettext(msgid) != strings[0]:
            problems.append(f"not served from the compiled catalog: {msgid!r}")
    assert not problems, "\n".join(problems)


def test_right_to_left_languages_get_dir_rtl(monkeypatch):
    monkeypatch.setattr(i18n, "LANGUAGES", [*i18n.LANGUAGES, "ar"])
    app = Flask(__name__)
    i18n.init_app(app)
    app.add_url_rule("/", "page", lambda: render_template_string('<html lang="{{ lang }}" dir="{{ text_dir }}">'))
    with app.test_client() as client:
        assert client.get("/?lang=ar").text == '<html lang="ar" dir="rtl">'
        assert client.get("/?lang=es").text == '<html lang="es" dir="ltr">'


# --- over real HTTP ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def app_client(shared_broker) -> tuple[str, str]:
    pool = shared_broker.pool()
    client = shared_broker.cli_json("client", "create", "--pool", pool, "--name", "i18n", "--callback-url", CALLBACK)
    return pool, client["ClientId"]


@pytest.fixture
def rp(shared_broker, app_client) -> RelyingParty:
    """A fresh browser (no cookies) in front of the module's app client."""
    pool, client_id = app_client
    return RelyingParty(shared_broker.base_url, pool, client_id)


def _login_page(rp: RelyingParty, headers: dict[str, str] | None = None, **params: str) -> requests.Response:
    _verifier, challenge = pkce()
    query = rp.authorize_params(code_challenge=challenge, code_challenge_method="S256", **params)
    r = rp.browser.get(rp.config["authorization_endpoint"], params=query, headers=headers,
                       allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    assert "/login?" in r.headers["Location"]
    page = rp.browser.get(urljoin(r.url, r.headers["Location"]), headers=headers,
                          allow_redirects=False, timeout=10)
    assert page.status_code == 200, page.text
    return page


def _speaks(page: requests.Response, lang: str) -> None:
    assert f'<html lang="{lang}" dir="ltr">' in page.text
    assert SIGN_IN_HEADING[lang] in page.text
    assert page.headers["Content-Language"] == lang


def test_lang_on_authorize_gives_a_spanish_login_and_is_remembered(rp):
    page = _login_page(rp, lang="es")
    _speaks(page, "es")
    assert "lang=es" in page.url
    assert rp.browser.cookies.get("cognate_lang") == "es"
    set_cookie = page.headers["Set-Cookie"]
    for attribute in ("cognate_lang=es", "Path=/", "SameSite=Lax", "HttpOnly", "Max-Age=31536000"):
        assert attribute in set_cookie

    page = _login_page(rp)  # no lang: the cookie decides
    _speaks(page, "es")
    r = rp.post_form(page, {"username": "nobody", "password": "wrong"})
    assert r.status_code == 400 and "Nombre de usuario o contraseña incorrectos." in r.text

    page = rp.browser.get(f"{page.url}&lang=de", timeout=10)  # lang on /login switches and is remembered
    _speaks(page, "de")
    assert rp.browser.cookies.get("cognate_lang") == "de"


def test_lang_fr_gives_french(rp):
    _speaks(_login_page(rp, lang="fr"), "fr")


def test_accept_language_picks_the_best_supported_language(rp):
    page = _login_page(rp, headers={"Accept-Language": "de-CH, de;q=0.9, en;q=0.5"})
    _speaks(page, "de")
    assert "cognate_lang" not in rp.browser.cookies  # only an explicit lang= is remembered


def test_unsupported_lang_is_ignored(rp):
    _speaks(_login_page(rp, lang="xx"), "en")
    _speaks(_login_page(rp, headers={"Accept-Language": "fr"}, lang="xx"), "fr")
    assert "cognate_lang" not in rp.browser.cookies


def test_error_pages_follow_the_language(rp):
    r = rp.browser.get(rp.config["authorization_endpoint"], params={"client_id": "nope", "lang": "es"}, timeout=10)
    assert r.status_code == 400
    assert '<html lang="es"' in r.text and "Este grupo de usuarios no conoce esta aplicación." in r.text
