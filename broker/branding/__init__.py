"""Hosted-UI branding per pool and per app client: Cognito's logo + CSS
(SetUICustomization, with ``ALL`` for the pool) and Keycloak-style themes. Changes are
audited as ``SetUICustomization`` with what changed, never the CSS or the image."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..errors import InvalidInput
from ..store import repo
from ..store.models import UiCustomization, utcnow
from ..userpool import audit
from .css import sanitize
from .images import check_logo

ALL = "ALL"
THEME_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def version(data: bytes | str | None) -> str | None:
    if data is None:
        return None
    raw = data.encode() if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def theme_dir(themes_dir: str | None, name: str) -> Path | None:
    """The folder of theme ``name`` if it exists under ``themes_dir``."""
    if not themes_dir or not THEME_NAME.match(name):
        return None
    path = Path(themes_dir) / name
    return path if path.is_dir() else None


def customize(session: Session, themes_dir: str | None, pool_id: str, client_id: str | None,
              css: str | None = None, logo: bytes | None = None, theme: str | None = None) -> UiCustomization:
    """Set any of CSS, logo and theme; everything is checked before anything is written."""
    target = client_id or ALL
    if repo.get_pool(session, pool_id) is None:
        raise InvalidInput(f"no user pool {pool_id!r}")
    if target != ALL and repo.get_client(session, pool_id, target) is None:
        raise InvalidInput(f"no app client {target!r} in pool {pool_id}")
    clean_css = sanitize(css) if css is not None else None
    logo_type = check_logo(logo) if logo is not None else None
    if theme is not None and theme != "" and theme_dir(themes_dir, theme) is None:
        raise InvalidInput(f"no theme {theme!r} in the themes directory ({themes_dir or 'BROKER_THEMES_DIR is not set'})")
    row = find(session, pool_id, target)
    if row is None:
        row = UiCustomization(pool_id=pool_id, client_id=target)
        session.add(row)
    if clean_css is not None:
        row.css = clean_css
    if logo is not None:
        row.logo, row.logo_type = logo, logo_type
    if theme is not None:
        row.theme = theme or None
    row.updated_at = utcnow()
    session.flush()
    changed = [name for name, value in (("css", css), ("logo", logo), ("theme", theme)) if value is not None]
    audit.record(session, pool_id, "SetUICustomization", audit.PASS, client_id=target, changed=changed,
                 css_version=version(row.css), image_version=version(row.logo), theme=row.theme)
    return row


def put(session: Session, pool_id: str, client_id: str | None, css: str | None,
        logo: bytes | None) -> UiCustomization | None:
    """Cognito's SetUICustomization: the CSS and the logo given replace the ones set and
    those left out are removed (a theme stays); with neither, the default look is back
    (:func:`reset`, None)."""
    if not css and not logo:
        reset(session, pool_id, client_id)
        return None
    row = customize(session, None, pool_id, client_id, css or None, logo or None)
    if not css:
        row.css = None
    if not logo:
        row.logo = row.logo_type = None
    session.flush()
    return row


def find(session: Session, pool_id: str, target: str) -> UiCustomization | None:
    stmt = select(UiCustomization).where(UiCustomization.pool_id == pool_id, UiCustomization.client_id == target)
    return session.scalars(stmt).first()


def resolve(session: Session, pool_id: str, client_id: str | None) -> UiCustomization | None:
    """The client's own branding if it has one, else the pool's (it replaces, not merges)."""
    if client_id:
        row = find(session, pool_id, client_id)
        if row is not None:
            return row
    return find(session, pool_id, ALL)


@dataclass(frozen=True)
class Resolved:
    """What a page needs of its branding (:func:`resolve`), small enough to cache: the
    row's target (a client id or ``ALL``; None when nothing is customized) and the
    versions of its logo and CSS."""

    target: str | None = None
    logo: str | None = None
    css: str | None = None
    theme: str | None = None


def resolved(session: Session, pool_id: str, client_id: str | None) -> Resolved:
    row = resolve(session, pool_id, client_id)
    if row is None:
        return Resolved()
    return Resolved(target=row.client_id, logo=version(row.logo), css=version(row.css) if row.css else None,
                    theme=row.theme)


def reset(session: Session, pool_id: str, client_id: str | None) -> bool:
    """Back to the default look (Cognito: SetUICustomization without CSS or image)."""
    row = find(session, pool_id, client_id or ALL)
    if row is not None:
        session.delete(row)
    audit.record(session, pool_id, "SetUICustomization", audit.PASS, client_id=client_id or ALL, reset=True,
                 removed=row is not None)
    return row is not None


def describe(row: UiCustomization | None, pool_id: str, client_id: str | None) -> dict[str, Any]:
    """Cognito's UICustomizationType."""
    return {
        "UserPoolId": pool_id, "ClientId": client_id or ALL,
        "CSS": row.css if row else None, "CSSVersion": version(row.css) if row else None,
        "ImageType": row.logo_type if row else None, "ImageVersion": version(row.logo) if row else None,
        "Theme": row.theme if row else None,
        "LastModifiedDate": row.updated_at.isoformat() if row else None,
    }
