"""The demo pool that ``broker demo`` creates once and prints."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Settings
from .oauth.issue import issuer
from .store.models import AppClient, UserPool
from .userpool import admin, app_clients

POOL_NAME = "demo"
USERNAME, PASSWORD = "demo", "Demo-Passw0rd!"


def ensure_demo(session: Session, settings: Settings) -> str:
    base = settings.base_url.rstrip("/")
    callback = f"{base}/demo/callback"
    pool = session.scalars(select(UserPool).where(UserPool.name == POOL_NAME)).first()
    saved = Path(settings.var_dir) / "demo-client-secret"
    if pool is None:
        pool = admin.create_pool(session, POOL_NAME)
        client, secret = app_clients.create_client(session, pool.id, "demo-app", [callback, "http://localhost:9000/callback"],
                                             ["http://localhost:9000/"], secret=True)
        admin.create_user(session, pool.id, USERNAME, PASSWORD, {"email": "demo@example.com"}, confirmed=True)
        saved.parent.mkdir(parents=True, exist_ok=True)
        saved.write_text(secret or "")
        saved.chmod(0o600)
    else:
        client = session.scalars(select(AppClient).where(AppClient.pool_id == pool.id)).first()
    iss = issuer(base, pool.id)
    authorize = (f"{iss}/oauth2/authorize?response_type=code&client_id={client.id}"
                 f"&redirect_uri=http://localhost:9000/callback&scope=openid+email+profile&state=demo")
    return "\n".join([
        "Cognate demo pool",
        f"  pool id:        {pool.id}",
        f"  issuer:         {iss}",
        f"  discovery:      {iss}/.well-known/openid-configuration",
        f"  client id:      {client.id}",
        f"  client secret:  {saved.read_text() if saved.exists() else '(lost: create a new client)'}",
        f"  sign in here:   {authorize}",
        f"  username:       {USERNAME}",
        f"  password:       {PASSWORD}",
    ])
