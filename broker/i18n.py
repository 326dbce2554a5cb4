"""The message catalog. Every user-visible string goes through these (Flask-Babel)."""
from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel, gettext, lazy_gettext, ngettext

__all__ = ["gettext", "lazy_gettext", "ngettext", "init_app", "LANGUAGES"]

LANGUAGES = ["en"]
RTL = {"ar", "he", "fa", "ur"}


def _select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("cognate_lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_select_locale)

    @app.context_processor
    def _language() -> dict[str, str]:
        from flask_babel import get_locale

        lang = str(get_locale() or "en")
        return {"lang": lang, "text_dir": "rtl" if lang.split("_")[0] in RTL else "ltr"}
