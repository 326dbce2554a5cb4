"""The message catalog and the language of each hosted page.

Every user-visible string goes through ``gettext``/``lazy_gettext``/``ngettext`` (Flask-Babel).
The catalogs are the ``.po`` files in ``broker/translations/<lang>/LC_MESSAGES/``; there is
no ``.mo`` build step: each catalog is compiled in memory the first time a page needs it.

The language is chosen as Cognito's hosted UI (``lang=``) and Keycloak (``kc_locale`` plus a
cookie) do: ``lang`` on the URL when supported (then remembered in the ``cognate_lang``
cookie), else OIDC's ``ui_locales``, else that cookie, else ``Accept-Language`` (RFC 9110 §12.5.4), else English.
Unsupported values are ignored, never an error.

    >>> supported("pt-BR"), supported("xx")
    ('pt', None)
"""
from __future__ import annotations

import threading
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import Flask, current_app, has_request_context, request
from flask_babel import Babel, Domain, get_locale, gettext, lazy_gettext, ngettext
from werkzeug.utils import cached_property
from werkzeug.wrappers import Response

__all__ = ["gettext", "lazy_gettext", "ngettext", "init_app", "supported", "LANGUAGES", "RTL", "COOKIE"]

LANGUAGES = ["en", "es", "fr", "de", "pt"]  # English is the source language: it has no catalog
RTL = {"ar", "he", "fa", "ur"}
COOKIE = "cognate_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
CATALOGS = Path(__file__).parent / "translations"


def supported(tag: str | None) -> str | None:
    """The supported language for a tag such as ``es``, ``pt-BR``, ``de_DE`` or ``FR``; else None."""
    if not tag or len(tag) > 35:
        return None
    known = {lang.lower().replace("_", "-"): lang for lang in LANGUAGES}
    tag = tag.strip().lower().replace("_", "-")
    return known.get(tag) or known.get(tag.split("-")[0])


class PoDomain(Domain):
    """Flask-Babel's domain, reading ``.po`` files directly: compiled once per language
    (``read_po`` → ``write_mo`` into memory → ``Translations``) and cached for the process."""

    def __init__(self, directory: Path = CATALOGS, domain: str = "messages") -> None:
        super().__init__(translation_directories=[str(directory)], domain=domain)
        self._lock = threading.Lock()

    def get_translations(self) -> NullTranslations:
        locale = get_locale()
        return self.catalog(str(locale)) if locale is not None else NullTranslations()

    def catalog(self, lang: str) -> NullTranslations:
        cached = self.cache.get(lang)
        if cached is None:
            with self._lock:  # one compilation per language, even under threaded workers
                cached = self.cache.get(lang)
                if cached is None:
                    cached = self.cache[lang] = self._compile(lang)
        return cached

    def _compile(self, lang: str) -> NullTranslations:
        path = Path(self.translation_directories[0]) / lang / "LC_MESSAGES" / f"{self.domain[0]}.po"
        if not path.is_file():
            return NullTranslations()
        with path.open("rb") as fp:
            po = read_po(fp, locale=lang, domain=self.domain[0])
        mo = BytesIO()
        write_mo(mo, po)  # fuzzy entries are left out, as msgfmt does
        mo.seek(0)
        return Translations(mo, domain=self.domain[0])


class _Babel(Babel):
    @cached_property
    def domain_instance(self) -> Domain:
        return PoDomain(domain=self.domain)


def _select_locale() -> str | None:
    if not has_request_context():
        return None  # Flask-Babel falls back to the default locale (en)
    return (supported(request.args.get("lang")) or _ui_locales() or supported(request.cookies.get(COOKIE))
            or _accepted() or LANGUAGES[0])


def _ui_locales() -> str | None:
    """The first supported tag of OIDC's ``ui_locales`` (space-separated, by preference;
    OIDC Core §3.1.2.1, RP-Initiated Logout §2), on the URL (a form's body is not read
    here: an error page may be choosing its language for a body too large to read)."""
    value = request.args.get("ui_locales") or ""
    return next((lang for lang in map(supported, value.split()[:10]) if lang), None)


def _accepted() -> str | None:
    """Best ``Accept-Language`` match by quality; ``fr-CA, en;q=0.5`` gives fr, not en."""
    for tag, quality in request.accept_languages:  # highest quality first
        if quality <= 0:
            continue
        lang = LANGUAGES[0] if tag == "*" else supported(tag)
        if lang:
            return lang
    return None


def bcp47() -> str:
    """The page language as an HTML ``lang`` / ``Content-Language`` tag (``pt_BR`` → ``pt-BR``)."""
    return str(get_locale() or LANGUAGES[0]).replace("_", "-")


def _language_context() -> dict[str, str]:
    lang = bcp47()
    return {"lang": lang, "text_dir": "rtl" if lang.split("-")[0] in RTL else "ltr"}


def _language_headers(response: Response) -> Response:
    """Remember an explicit ``lang=`` and label HTML pages with their language."""
    chosen = supported(request.args.get("lang"))
    if chosen:
        response.set_cookie(COOKIE, chosen, max_age=COOKIE_MAX_AGE, path="/", samesite="Lax", httponly=True,
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    if response.mimetype == "text/html":
        response.headers["Content-Language"] = bcp47()
        response.vary.add("Accept-Language")
    return response


def init_app(app: Flask) -> None:
    _Babel(app, locale_selector=_select_locale)
    app.context_processor(_language_context)
    app.after_request(_language_headers)
