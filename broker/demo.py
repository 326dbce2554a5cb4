"""The demo pool that ``broker demo`` creates once, and what it tells a newcomer: its part of
the start-up banner, and ``demo.env`` in the data directory, the values the README's tour
reads (``. var/demo.env``) so that every command there runs as printed."""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Settings
from .errors import InvalidInput
from .oauth.issue import issuer
from .store.models import AppClient, UserPool
from .userpool import admin, app_clients

POOL_NAME, CLIENT_NAME = "demo", "demo-app"
USERNAME, PASSWORD = "demo", "Demo-Passw0rd!"
#: Where the demo's browser sign-ins land (nothing listens there: the code is in the address).
CALLBACK = "http://localhost:9000/callback"
SECRET_FILE, ENV_FILE = "demo-client-secret", "demo.env"


@dataclass(frozen=True)
class DemoPool:
    base_url: str
    pool_id: str
    client_id: str
    client_secret: str | None

    @property
    def issuer(self) -> str:
        return issuer(self.base_url, self.pool_id)

    @property
    def sign_in_url(self) -> str:
        return (f"{self.issuer}/oauth2/authorize?response_type=code&client_id={self.client_id}"
                f"&redirect_uri={CALLBACK}&scope=openid+email+profile&state=demo")

    def write_env(self, data_dir: str) -> Path:
        """``demo.env``: shell assignments of BASE, POOL, CLIENT and SECRET, rewritten at each
        start (the port may have changed); readable by its owner only (it holds the secret),
        and never written through a symbolic link planted in its place."""
        path = Path(data_dir) / ENV_FILE
        values = {"BASE": self.base_url, "POOL": self.pool_id, "CLIENT": self.client_id,
                  "SECRET": self.client_secret or ""}
        text = "# The running demo's values for the README's tour; broker demo writes them at each start.\n"
        text += "".join(f"{name}={shlex.quote(value)}\n" for name, value in values.items())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
            path.chmod(0o600)
        except OSError as exc:
            raise InvalidInput(f"cannot write {path}: {exc.strerror}") from None
        return path

    def banner(self, env_file: Path) -> list[str]:
        """The demo's lines of the start-up banner."""
        return [
            f"Demo pool (the README's tour, in another terminal: . {env_file})",
            f"  pool id:        {self.pool_id}",
            f"  discovery:      {self.issuer}/.well-known/openid-configuration",
            f"  client id:      {self.client_id}",
            f"  client secret:  {self.client_secret or '(lost: create a new client)'}",
            f"  sign in here:   {self.sign_in_url}",
            f"  username:       {USERNAME}",
            f"  password:       {PASSWORD}",
        ]


def ensure_demo(session: Session, settings: Settings) -> DemoPool:
    """The demo pool and its user, created at the first start, and its confidential app
    client ``demo-app`` (made again if it was deleted; the tour adds clients of its own)."""
    base = settings.base_url.rstrip("/")
    pool = session.scalars(select(UserPool).where(UserPool.name == POOL_NAME)).first()
    if pool is None:
        pool = admin.create_pool(session, POOL_NAME)
        admin.create_user(session, pool.id, USERNAME, PASSWORD, {"email": "demo@example.com"}, confirmed=True)
    saved = Path(settings.data_dir) / SECRET_FILE
    client = session.scalars(select(AppClient).where(AppClient.pool_id == pool.id, AppClient.name == CLIENT_NAME)
                             .order_by(AppClient.id)).first()
    if client is None:
        client, secret = app_clients.create_client(session, pool.id, CLIENT_NAME, [f"{base}/demo/callback", CALLBACK],
                                                   ["http://localhost:9000/"], secret=True)
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(secret or "")
        saved.chmod(0o600)
    return DemoPool(base, pool.id, client.id, saved.read_text().strip() if saved.exists() else None)
