"""Hosted-UI branding as a user sees it, in a real Chromium (Debian's, driven by Playwright)
over one real server: Cognito-style CSS and a logo uploaded with `broker ui set` restyle the
sign-in page, client branding replaces the pool's, a theme replaces one page and no other,
lang= translates the pages. Every page visited logs no console error and no CSP violation,
fits a 320 px screen, and the default look has no serious axe-core finding."""
from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import Browser

from tests.a11y import Axe, axe  # noqa: F401 (axe is a fixture)
from tests.conftest import Broker, start_broker
from tests.browser import SCREENSHOTS, Tab, browser, tab  # noqa: F401 (browser is a fixture)
from tests.rp import CALLBACK, pkce

PASSWORD = "Corr3ct-Horse!"
THEME = "acme"
# Set to rewrite docs/screenshots/*.png from this run instead of leaving them alone.
BUTTON_COLOUR = "rgb(1, 2, 3)"
COGNITO_CSS = f"""
/* a stylesheet written for Cognito's hosted UI */
.background-customizable {{ background-color: rgb(240, 236, 228); }}
.banner-customizable {{ padding: 12px 0px 12px 0px; background-color: rgb(24, 32, 56); border-radius: 8px; }}
.submitButton-customizable {{ background-color: {BUTTON_COLOUR}; border-color: {BUTTON_COLOUR}; font-size: 17px; }}
.submitButton-customizable:hover {{ background-color: rgb(60, 60, 60); }}
.label-customizable {{ color: rgb(24, 32, 56); }}
"""
THEME_LOGIN = """{% extends "base.html" %}
{% import "_macros.html" as m with context %}
{% block title %}{{ _('Sign in') }}{% endblock %}
{% block head %}<link rel="stylesheet" href="{{ theme_static('theme.css') }}">{% endblock %}
{% block content %}
<p class="theme-marker" id="acme-marker">Acme staff sign-in</p>
<h1>{{ _('Sign in') }}</h1>
<form method="post" action="{{ action }}" class="form">
  {{ m.hidden_fields(txn) }}
  {{ m.field('username', _('Username'), value=username, autocomplete='username') }}
  {{ m.field('password', _('Password'), type='password', autocomplete='current-password') }}
  <button type="submit" class="submitButton-customizable">{{ _('Sign in') }}</button>
</form>
{% if signup_url %}<p><a href="{{ signup_url }}">{{ _('Sign up') }}</a></p>{% endif %}
{% endblock %}
"""
THEME_CSS = ".theme-marker { color: rgb(4, 5, 6); font-weight: 700; }\n"


def png(width: int = 400, height: int = 80) -> bytes:
    """A small, valid RGB PNG (a checkerboard: ~500 bytes), wider than a 320 px screen."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"".join(bytes((255, 196, 40) if (x // 20 + y // 20) % 2 else (250, 250, 250))
                                       for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


@dataclass(frozen=True)
class App:
    pool: str
    client: str


@dataclass(frozen=True)
class Site:
    """One server, and an app per look: default, Cognito CSS + logo, pool vs client CSS, theme."""

    broker: Broker
    plain: App
    custom: App
    pool_branded: App
    client_branded: App
    themed: App


def _app(broker: Broker, pool: str) -> App:
    out = broker.cli_json("client", "create", "--pool", pool, "--name", "web", "--callback-url", CALLBACK)
    return App(pool, out["ClientId"])


def _write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("branding")
    themes = tmp / "themes"
    _write(themes / THEME / "templates" / "login.html", THEME_LOGIN)
    _write(themes / THEME / "static" / "theme.css", THEME_CSS)
    broker = start_broker(tmp / "server", database_url=f"sqlite:///{tmp}/broker.db", redis_url=redis_url,
                          BROKER_THEMES_DIR=str(themes))
    try:
        plain, custom = _app(broker, broker.pool()), _app(broker, broker.pool())
        broker.cli("user", "create", "--pool", custom.pool, "--username", "alice", "--password", PASSWORD,
                   "--email", "alice@example.com", "--confirmed")
        (tmp / "logo.png").write_bytes(png())
        broker.cli("ui", "set", "--pool", custom.pool, "--css", _write(tmp / "cognito.css", COGNITO_CSS))
        broker.cli("ui", "set", "--pool", custom.pool, "--logo", str(tmp / "logo.png"))
        layered = broker.pool()
        pool_branded, client_branded = _app(broker, layered), _app(broker, layered)
        broker.cli("ui", "set", "--pool", layered, "--css",
                   _write(tmp / "red.css", ".submitButton-customizable { background-color: red; }"))
        broker.cli("ui", "set", "--pool", layered, "--client", client_branded.client, "--css",
                   _write(tmp / "blue.css", ".submitButton-customizable { background-color: blue; }"))
        themed = _app(broker, broker.pool())
        broker.cli("ui", "set", "--pool", themed.pool, "--theme", THEME)
        yield Site(broker, plain, custom, pool_branded, client_branded, themed)
    finally:
        broker.stop()
    log = broker.log.read_text() if broker.log and broker.log.exists() else ""
    assert "Traceback" not in log, f"server logged a traceback:\n{log[-4000:]}"


def authorize_url(site: Site, app: App, client_id: str | None = None, **extra: str) -> str:
    _verifier, challenge = pkce()
    params = {"response_type": "code", "client_id": client_id or app.client, "redirect_uri": CALLBACK,
              "scope": "openid email", "state": "s1", "code_challenge": challenge, "code_challenge_method": "S256"}
    return f"{site.broker.url(app.pool, '/oauth2/authorize')}?{urlencode({**params, **extra})}"


def open_login(t: Tab, site: Site, app: App, **extra: str) -> None:
    t.open(authorize_url(site, app, **extra))
    assert urlsplit(t.page.url).path == f"/{app.pool}/login", t.page.url


def go_to_signup(t: Tab) -> None:
    t.page.locator("a[href*='/signup?']").click()
    t.page.wait_for_url("**/signup?**")
    t.assert_clean()


def test_cognito_css_colours_the_sign_in_button_and_the_form_still_works(site: Site, browser: Browser) -> None:
    with tab(browser) as t:
        open_login(t, site, site.custom)
        css = t.page.locator("link[rel=stylesheet][href*='/ui/']").get_attribute("href") or ""
        assert css.startswith(f"/{site.custom.pool}/ui/ALL/style.css?v=")
        assert t.style(".submitButton-customizable", "backgroundColor") == BUTTON_COLOUR

        t.page.get_by_label("Username", exact=True).fill("alice")
        t.page.get_by_label("Password", exact=True).fill(PASSWORD)
        t.page.get_by_role("button", name="Sign in", exact=True).click()
        t.page.wait_for_url(f"{CALLBACK}?**")
        assert len(t.callbacks) == 1 and "code=" in t.callbacks[0] and "state=s1" in t.callbacks[0]


def test_uploaded_logo_is_shown(site: Site, browser: Browser) -> None:
    with tab(browser) as t:
        open_login(t, site, site.custom)
        logo = t.page.locator("img.logo-customizable")
        src = logo.get_attribute("src") or ""
        assert src.startswith(f"/{site.custom.pool}/ui/ALL/logo?v="), src
        assert logo.evaluate("img => img.complete && img.naturalWidth") == 400
        assert logo.is_visible()


def test_client_branding_replaces_pool_branding(site: Site, browser: Browser) -> None:
    for app, colour in [(site.client_branded, "rgb(0, 0, 255)"), (site.pool_branded, "rgb(255, 0, 0)")]:
        with tab(browser) as t:
            open_login(t, site, app)
            assert t.style(".submitButton-customizable", "backgroundColor") == colour, app


@pytest.mark.parametrize("lang,title,heading,button,signup_heading", [
    ("es", "Iniciar sesión", "Inicie sesión con su nombre de usuario y contraseña", "Iniciar sesión",
     "Registrarse con una cuenta nueva"),
    ("fr", "Se connecter", "Connectez-vous avec votre nom d'utilisateur et votre mot de passe", "Se connecter",
     "S'inscrire avec un nouveau compte"),
])
def test_lang_translates_the_pages(site: Site, browser: Browser, lang: str, title: str, heading: str, button: str,
                                   signup_heading: str) -> None:
    with tab(browser) as t:
        open_login(t, site, site.plain, lang=lang)
        assert t.page.locator("html").get_attribute("lang") == lang
        assert t.page.title() == title
        assert t.page.get_by_role("heading", level=1).inner_text() == heading
        assert t.page.locator("button[type=submit]").inner_text() == button
        go_to_signup(t)  # the choice is remembered across pages
        assert t.page.locator("html").get_attribute("lang") == lang
        assert t.page.get_by_role("heading", level=1).inner_text() == signup_heading


def test_theme_replaces_the_login_page_only(site: Site, browser: Browser) -> None:
    with tab(browser) as t:
        open_login(t, site, site.themed)
        marker = t.page.locator("#acme-marker")
        assert marker.inner_text() == "Acme staff sign-in"
        assert t.style("#acme-marker", "color") == "rgb(4, 5, 6)"  # the theme's own stylesheet applies
        href = t.page.locator("link[href*='/ui/theme/']").get_attribute("href")
        assert href == f"/{site.themed.pool}/ui/theme/{THEME}/theme.css"

        go_to_signup(t)
        assert t.page.locator("#acme-marker").count() == 0
        assert t.page.locator("link[href*='/ui/theme/']").count() == 0
        assert t.page.get_by_role("heading", level=1).inner_text() == "Sign up with a new account"


@pytest.mark.parametrize("look", ["plain", "custom"])
def test_login_page_has_no_horizontal_scroll_at_320px(site: Site, browser: Browser, look: str) -> None:
    with tab(browser, width=320, height=640) as t:
        open_login(t, site, getattr(site, look))
        width = t.page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert width[0] <= width[1] == 320, f"horizontal scroll at 320 px: scrollWidth={width[0]}"
        t.shoot(f"branding-320-{look}.png")


@pytest.mark.parametrize("look,reference", [("plain", "signin-default.png"), ("custom", "signin-custom.png")])
def test_sign_in_screenshots(site: Site, browser: Browser, look: str, reference: str) -> None:
    with tab(browser, width=480, height=720) as t:
        open_login(t, site, getattr(site, look))
        t.page.locator("input:focus").blur()  # no focus ring in the picture
        t.shoot(f"branding-signin-{look}.png", reference)
    assert (SCREENSHOTS / f"branding-signin-{look}.png").stat().st_size < 150_000


@pytest.mark.parametrize("page_name", ["sign-in", "sign-up", "error"])
def test_default_pages_have_no_serious_axe_violations(site: Site, browser: Browser, axe: Axe,  # noqa: F811
                                                       page_name: str) -> None:
    with tab(browser) as t:
        if page_name == "error":
            t.open(authorize_url(site, site.plain, client_id="nosuchclient0000000000000"), status=400)
            assert t.page.get_by_role("alert").is_visible()
        else:
            open_login(t, site, site.plain)
            if page_name == "sign-up":
                go_to_signup(t)
        axe.check(t.page)
