"""Themes (Keycloak's model): a theme folder under ``BROKER_THEMES_DIR`` holds
``templates/`` and ``static/``; a template it has replaces the default one of the same
name, every other page keeps the default. The active theme is ``g.theme``; templates are
looked up as ``@<theme>/<name>`` so that Jinja's cache never mixes themes."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from flask import Flask, has_request_context
from flask.templating import Environment
from jinja2 import BaseLoader, TemplateNotFound


class ThemeLoader(BaseLoader):
    def __init__(self, fallback: BaseLoader, themes_dir: str | None) -> None:
        self.fallback, self.themes_dir = fallback, themes_dir

    def get_source(self, environment: Any, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template.startswith("@"):
            theme, _, name = template[1:].partition("/")
            if self.themes_dir and ".." not in name.split("/"):
                path = Path(self.themes_dir) / theme / "templates" / name
                if path.is_file():
                    mtime = path.stat().st_mtime
                    return path.read_text(encoding="utf-8"), str(path), lambda: path.stat().st_mtime == mtime
            return self.fallback.get_source(environment, name)
        return self.fallback.get_source(environment, template)

    def list_templates(self) -> list[str]:
        return self.fallback.list_templates()


class ThemedEnvironment(Environment):
    def get_template(self, name: Any, parent: Any = None, globals: Any = None) -> Any:  # noqa: A002
        from .assets import current_theme

        theme = current_theme() if has_request_context() else None
        if theme and isinstance(name, str) and not name.startswith("@"):
            name = f"@{theme}/{name}"
        return super().get_template(name, parent, globals)


class BrokerFlask(Flask):
    jinja_environment = ThemedEnvironment
    themes_dir: str | None = None

    def create_global_jinja_loader(self) -> Any:
        return ThemeLoader(super().create_global_jinja_loader(), self.themes_dir)


__all__ = ["BrokerFlask", "TemplateNotFound"]
