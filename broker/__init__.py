"""Cognate: a self-hosted identity broker that does the job of Amazon Cognito user pools.

``create_app(settings)`` is the only place that builds the application.
"""
from __future__ import annotations

import logging
from pathlib import Path

from typing import TYPE_CHECKING

from .config import ConfigError, Settings, dev_secret_key, load_settings, validate

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("broker")
_HERE = Path(__file__).parent


def _asset_dir(name: str) -> str:
    """templates/ and static/ sit beside the package in a checkout, inside it in a wheel."""
    inside = _HERE / name
    return str(inside if inside.is_dir() else _HERE.parent / name)


def create_app(settings: Settings | None = None) -> Flask:
    from flask_wtf.csrf import CSRFProtect

    from . import api as aws_api, i18n, observability
    from .api import protocol
    from .identity.keys import IDENTITY_KEY_ROWS
    from .oauth import backchannel
    from .oauth.keys import KeyCache
    from .oauth.lean_token import LeanTokenEndpoint
    from .oauth.server import build_server
    from .runtime import Runtime, warm
    from .sealing import Sealer
    from .store.cache import ConfigCache
    from .store.db import Database
    from .store.state import open_state
    from .triggers import senders as custom_senders
    from .userpool.outbox import open_outbox
    from .web import account, api, assets, code_login, errors, federation, health, hosted, identity, import_upload, \
        logout, mfa, passkey_account, passkey_login, saml, verify
    from .web.themes import BrokerFlask
    from .web.pools import close_session, register

    settings = settings or load_settings()
    problems = validate(settings)
    if problems:
        raise ConfigError(problems)
    observability.init_logging(settings)
    if settings.embedded_store:
        log.warning("REDIS_URL is not set: using the embedded in-process store; run ONE process only")
    if not settings.secret_key:
        log.warning("BROKER_SECRET_KEY is not set: using a generated development key")

    app = BrokerFlask("broker", template_folder=_asset_dir("templates"), static_folder=_asset_dir("static"))
    app.themes_dir = settings.themes_dir
    app.config.update(
        SECRET_KEY=settings.secret_key or dev_secret_key(settings.data_dir),
        MAX_CONTENT_LENGTH=settings.max_content_length,
        # Over HTTPS the __Host- prefix makes browsers refuse the cookie unless it is Secure,
        # host-only and for Path=/: a sibling subdomain cannot plant its own session cookie
        # (which would share its browser id and hosted session with the victim's browser).
        SESSION_COOKIE_NAME="__Host-cognate" if settings.is_https else "cognate",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_https,
        PERMANENT_SESSION_LIFETIME=settings.session_ttl,
        PREFERRED_URL_SCHEME="https" if settings.is_https else "http",
        WTF_CSRF_TIME_LIMIT=settings.login_ttl,
        WTF_CSRF_SSL_STRICT=False,
    )
    sealer = Sealer(app.config["SECRET_KEY"])
    db, keys, config = Database(settings.database_url, sealer), KeyCache(settings.key_cache_seconds), ConfigCache(
        settings.config_cache_seconds)
    identity_keys = KeyCache(settings.key_cache_seconds, IDENTITY_KEY_ROWS)
    config.on_change(keys.clear)
    config.on_change(identity_keys.clear)
    db.config_committed.append(config.clear)
    state = open_state(settings.redis_url)
    outbox = open_outbox(settings, state)
    outbox.invoker = custom_senders.courier(db)  # CustomEmailSender/CustomSMSSender run after the answer
    outbox.notifier = backchannel.courier(db, keys, settings.base_url)  # apps told of sign-outs after the answer
    db.sign_outs_committed.append(backchannel.signed_out(outbox))
    app.extensions["broker"] = Runtime(settings=settings, db=db, state=state, sender=outbox, keys=keys, config=config,
                                       sms=outbox, sealer=sealer, identity_keys=identity_keys)
    # (a recycled worker's replacement)
    app.extensions["broker.warm"] = lambda concurrency=1: warm(app.extensions["broker"], concurrency)
    app.before_request(outbox.ensure_courier)
    app.after_request(outbox.after_request)
    lean = LeanTokenEndpoint(app.wsgi_app, app.extensions["broker"], observability.token_issued,
                             api.token_answer_headers(settings.is_https))
    app.wsgi_app = app.extensions["broker.lean_token"] = lean  # type: ignore[method-assign]
    observability.init_app(app, settings)  # inside ProxyFix: it logs the client's address
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    i18n.init_app(app)
    csrf = CSRFProtect(app)
    for view in (api.token, api.revoke, api.introspect, api.userinfo):  # bearer/client-authenticated APIs
        csrf.exempt(view)
    csrf.exempt(saml.acs)  # the IdP's cross-site POST: its signature and InResponseTo are the proof
    csrf.exempt(protocol.dispatch)  # the JSON API: ClientId, SECRET_HASH, tokens or SigV4 are the proof
    csrf.exempt(import_upload.upload)  # an import job's pre-signed URL: its HMAC is the proof
    csrf.exempt(logout.logout_form)  # an app's logout request as a form: checked, then the GET it stands for
    app.extensions["broker.oauth"] = build_server(app)
    app.register_blueprint(health.bp)
    aws_api.load_operations()
    app.register_blueprint(protocol.bp)  # POST / : Cognito's JSON API
    app.register_blueprint(import_upload.bp)  # PUT /import-jobs/<JobId>: an import job's CSV
    app.register_blueprint(identity.bp)  # /identity/.well-known/...: the identities' OpenID issuer
    for bp in (api.bp, hosted.bp, logout.bp, mfa.bp, account.bp, passkey_login.bp, passkey_account.bp, code_login.bp,
               verify.bp, assets.bp, federation.bp, saml.bp):
        register(app, bp)
    errors.init_app(app)
    app.teardown_request(close_session)

    app.context_processor(assets.template_context)
    return app


__all__ = ["create_app", "load_settings", "Settings"]
