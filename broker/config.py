"""Typed settings: defaults in one place, read from an optional TOML file and the
environment (the environment wins), checked by :func:`validate` which lists every error.
"""
from __future__ import annotations

import dataclasses
import os
import re
import secrets
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit, urlunsplit

from . import urls


class ConfigError(Exception):
    """Raised with every problem found in the settings, one per line."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid configuration: " + "; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Settings:
    base_url: str = "http://localhost:8000"
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str | None = None
    env: str = "development"
    config_file: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "no-reply@localhost"
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    #: Seconds before a failed mail or SMS is tried again; each later try waits twice as long.
    delivery_retry_seconds: int = 5
    #: Seconds a hosted-UI sign-in session lasts (Cognito: 1 hour).
    session_ttl: int = 3600
    #: Seconds a login transaction (authorize → form → code) may take.
    login_ttl: int = 900
    #: Seconds an authorization code lives (single use).
    code_ttl: int = 300
    #: Login transactions (each one a record in the state store for ``login_ttl``) one client
    #: IP may start per minute; 0: no limit.
    login_starts_per_minute: int = 60
    #: Largest request body accepted anywhere, in bytes.
    max_content_length: int = 64 * 1024
    #: Failed sign-ins before the growing delay starts, per user and per IP.
    lockout_free_attempts: int = 3
    lockout_max_delay: int = 900
    #: Seconds a node keeps signing keys parsed in memory before re-reading them.
    key_cache_seconds: int = 30
    #: Seconds a node may serve configuration (pools, app clients, IdPs, branding, keys) from
    #: memory before it checks the database for changes made elsewhere (0: at every request).
    config_cache_seconds: int = 1
    #: Where Cognate keeps its own files: the default SQLite database, the development secret
    #: key, the demo's client secret. Unset: :func:`default_data_dir`; always absolute once loaded.
    data_dir: str = ""
    #: Host name → pool id: a custom domain serves its pool's endpoints at "/".
    #: TOML: a ``[domains]`` table; env: ``BROKER_DOMAINS="auth.example.com=local_Ab12Cd34E,..."``.
    domains: Mapping[str, str] = field(default_factory=dict)
    #: SMS delivery: a webhook that receives {"to", "message"} as JSON (unset: SMS go to the log).
    sms_webhook_url: str | None = None
    sms_webhook_token: str | None = None
    #: Where identity pools check ``accounts.google.com`` and ``graph.facebook.com`` logins
    #: (Google's issuer, the Graph API): stand-ins on loopback in tests.
    google_issuer: str = "https://accounts.google.com"
    facebook_graph_url: str = "https://graph.facebook.com"
    #: Folder of hosted-UI themes (one sub-folder per theme: templates/ and static/).
    themes_dir: str | None = None
    #: Reverse proxies in front of the server whose X-Forwarded-* headers are trusted.
    trusted_proxies: int = 0
    #: ``json`` (one object per line, with the request id) or ``text``; unset: json in production.
    log_format: str = ""
    #: When set, ``/metrics`` answers only requests with ``Authorization: Bearer <token>``.
    metrics_token: str | None = None
    #: The STS that identity pools obtain credentials from (AssumeRoleWithWebIdentity): any
    #: STS-compatible endpoint (MinIO, Ceph RGW, moto); unset: AWS's STS of ``sts_region``.
    sts_endpoint: str = ""
    #: The AWS region of that STS (AWS's regional endpoint when ``sts_endpoint`` is unset).
    sts_region: str = "us-east-1"
    #: Identity pools' public calls (GetId, GetCredentialsForIdentity, GetOpenIdToken) one
    #: client network may make to one identity pool per minute; 0: no limit.
    identity_calls_per_minute: int = 300
    #: The same calls to one identity pool from all networks, per second; 0: no limit.
    identity_pool_calls_per_second: int = 200
    #: A PEM bundle of the root certificates that passkey attestations must chain to (such as
    #: the FIDO Metadata Service's); needed by pools that allow only some authenticator models.
    passkey_attestation_roots: str | None = None

    @property
    def is_https(self) -> bool:
        return self.base_url.startswith("https://")

    @property
    def embedded_store(self) -> bool:
        return not self.redis_url

    @property
    def json_logs(self) -> bool:
        return (self.log_format or ("json" if self.env == "production" else "text")) == "json"


_ENV = {
    "BROKER_BASE_URL": "base_url",
    "DATABASE_URL": "database_url",
    "REDIS_URL": "redis_url",
    "BROKER_SECRET_KEY": "secret_key",
    "BROKER_ENV": "env",
    "BROKER_SMTP_HOST": "smtp_host",
    "BROKER_SMTP_PORT": "smtp_port",
    "BROKER_SMTP_FROM": "smtp_from",
    "BROKER_SMTP_USER": "smtp_user",
    "BROKER_SMTP_PASSWORD": "smtp_password",
    "BROKER_SMTP_STARTTLS": "smtp_starttls",
    "BROKER_DELIVERY_RETRY_SECONDS": "delivery_retry_seconds",
    "BROKER_VAR_DIR": "data_dir",  # the older name; BROKER_DATA_DIR wins when both are set
    "BROKER_DATA_DIR": "data_dir",
    "BROKER_KEY_CACHE_SECONDS": "key_cache_seconds",
    "BROKER_CONFIG_CACHE_SECONDS": "config_cache_seconds",
    "BROKER_DOMAINS": "domains",
    "BROKER_TRUSTED_PROXIES": "trusted_proxies",
    "BROKER_THEMES_DIR": "themes_dir",
    "BROKER_SMS_WEBHOOK_URL": "sms_webhook_url",
    "BROKER_SMS_WEBHOOK_TOKEN": "sms_webhook_token",
    "BROKER_GOOGLE_ISSUER": "google_issuer",
    "BROKER_FACEBOOK_GRAPH_URL": "facebook_graph_url",
    "BROKER_LOG_FORMAT": "log_format",
    "BROKER_METRICS_TOKEN": "metrics_token",
    "BROKER_LOGIN_STARTS_PER_MINUTE": "login_starts_per_minute",
    "BROKER_STS_ENDPOINT": "sts_endpoint",
    "BROKER_PASSKEY_ATTESTATION_ROOTS": "passkey_attestation_roots",
    "BROKER_STS_REGION": "sts_region",
    "BROKER_IDENTITY_CALLS_PER_MINUTE": "identity_calls_per_minute",
    "BROKER_IDENTITY_POOL_CALLS_PER_SECOND": "identity_pool_calls_per_second",
}
_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_ENV_NAME = {attr: name for name, attr in _ENV.items()}
#: Older names of settings in the TOML file.
_TOML_ALIASES = {"var_dir": "data_dir"}


def load_settings(environ: Mapping[str, str] | None = None, defaults: Mapping[str, object] | None = None,
                  **overrides: object) -> Settings:
    """Build settings from ``defaults`` (what the command line implies, such as the base URL
    of ``serve --port``), then ``BROKER_CONFIG`` (TOML), then the environment, then ``overrides``."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = dict(defaults or {})
    errors: list[str] = []
    config_file = environ.get("BROKER_CONFIG")
    if config_file:
        values.update(_read_toml(config_file, errors))
        values["config_file"] = config_file
    for name, attr in _ENV.items():
        if environ.get(name, "") != "":
            values[attr] = environ[name]
    values.update(overrides)
    values = {k: _coerce(k, v, errors) for k, v in values.items()}
    if errors:
        raise ConfigError(errors)
    data_dir = Path(str(values.get("data_dir") or default_data_dir(environ))).expanduser().resolve()
    values["data_dir"] = str(data_dir)
    values.setdefault("database_url", "")
    values["database_url"] = values["database_url"] or default_database_url(str(data_dir))
    return Settings(**values)  # type: ignore[arg-type]


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """Where Cognate keeps its files unless told (``--data-dir``, ``BROKER_DATA_DIR``): the
    ``var/`` folder of the checkout it runs from, so that every command of one checkout finds
    the same database from any working directory; else ``$XDG_DATA_HOME/cognate``
    (``~/.local/share/cognate``), as the XDG Base Directory Specification asks of user data.
    https://specifications.freedesktop.org/basedir-spec/latest/
    """
    checkout = running_checkout()
    if checkout is not None:
        return checkout / "var"
    xdg = environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if os.path.isabs(xdg) else Path(environ.get("HOME") or Path.home()) / ".local" / "share"
    return base / "cognate"


def running_checkout() -> Path | None:
    """The Cognate checkout this program runs from: the one holding the imported package (an
    editable install, the tests) or the virtualenv (``scripts/bootstrap``'s ``.venv``); None
    for an installed copy (a wheel, a container image)."""
    places = [Path(__file__).resolve().parent.parent]
    if sys.prefix != sys.base_prefix:
        places.append(Path(sys.prefix).parent)
    for place in places:
        try:
            project = (place / "pyproject.toml").read_text()
        except OSError:
            continue
        if re.search(r'^name = "cognate"$', project, re.M) and (place / "broker" / "__init__.py").is_file():
            return place
    return None


def default_database_url(data_dir: str) -> str:
    return f"sqlite:///{Path(data_dir) / 'broker.db'}"


def uses_data_dir(settings: Settings) -> bool:
    """Whether the data directory holds anything of this configuration: the default SQLite
    database or the generated development key."""
    return settings.database_url == default_database_url(settings.data_dir) or not settings.secret_key


def data_location(settings: Settings) -> str:
    """Where the pools are kept, as the start-up banner and an empty ``pool list`` say it: the
    data directory, or the database URL without its password."""
    if settings.database_url == default_database_url(settings.data_dir):
        return settings.data_dir
    parts = urlsplit(settings.database_url)
    if parts.password is None:
        return settings.database_url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)))


def data_dir_problem(path: str) -> str | None:
    """Why Cognate cannot keep its files in ``path`` (None when it can: the folder is there
    and writable, or its nearest existing parent is a folder it may create it in). Tried by
    writing a temporary file: permission bits do not tell for root or a read-only mount."""
    here = Path(path)
    while not here.exists() and here != here.parent:
        here = here.parent
    if not here.is_dir():
        return f"data directory {path}: {here} is not a directory"
    try:
        with tempfile.TemporaryFile(dir=here):
            pass
    except OSError as exc:
        return f"data directory {path}: cannot write in {here} ({exc.strerror})"
    return None


def listening_base_url(host: str, port: int) -> str:
    """The base URL a server listening on ``host:port`` is reached at from the same machine:
    the default of ``BROKER_BASE_URL`` for ``broker serve --host/--port``.

    >>> listening_base_url("0.0.0.0", 8001), listening_base_url("::1", 80)
    ('http://localhost:8001', 'http://[::1]:80')
    """
    if host in ("127.0.0.1", "0.0.0.0", "::", "", "localhost"):
        host = "localhost"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _read_toml(path: str, errors: list[str]) -> dict[str, object]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        errors.append(f"BROKER_CONFIG {path}: {exc}")
        return {}
    values: dict[str, object] = {}
    for key, value in data.items():
        attr = key.replace("-", "_")
        attr = _TOML_ALIASES.get(attr, attr)
        if attr not in _FIELDS or attr == "config_file":
            errors.append(f"BROKER_CONFIG {path}: unknown setting {key!r}")
        else:
            values[attr] = value
    return values


def _coerce(name: str, value: object, errors: list[str]) -> object:
    kind = _FIELDS[name].type
    if kind == "int" and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            errors.append(f"{_ENV_NAME.get(name, name)} must be an integer, not {value!r}")
            return 0
    if kind == "bool" and isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if name == "domains" and isinstance(value, str):
        pairs = [item.partition("=") for item in value.split(",") if item.strip()]
        if any(not host.strip() or not sep or not pool.strip() for host, sep, pool in pairs):
            errors.append("BROKER_DOMAINS must be host=PoolId pairs separated by commas")
        return {host.strip().lower(): pool.strip() for host, _sep, pool in pairs}
    return value


#: Whole-number settings and the range each must be in.
_RANGES = {"smtp_port": (1, 65535), "delivery_retry_seconds": (1, 600), "trusted_proxies": (0, 5),
           "key_cache_seconds": (0, 3600), "config_cache_seconds": (0, 3600),
           "login_starts_per_minute": (0, 1_000_000), "identity_calls_per_minute": (0, 1_000_000),
           "identity_pool_calls_per_second": (0, 1_000_000)}
#: Settings that are 0 for no limit (said in their message).
_NO_LIMIT = ("login_starts_per_minute", "identity_calls_per_minute", "identity_pool_calls_per_second")
#: Upstream URLs (:func:`broker.urls.problem`): https, http on loopback; the STS's and a
#: webhook's may be http anywhere (a sidecar, a private network's MinIO).
_URLS = {"google_issuer": {}, "facebook_graph_url": {}, "sts_endpoint": {"http": True},
         "sms_webhook_url": {"http": True, "query": True}}


def validate(settings: Settings) -> list[str]:
    """Every problem with ``settings``; empty when they can be used."""
    errors: list[str] = []
    if urls.problem(settings.base_url, http=True):
        errors.append(f"BROKER_BASE_URL must be an http(s) URL without query, got {settings.base_url!r}")
    if not settings.database_url.startswith(("sqlite:", "postgresql")):
        errors.append("DATABASE_URL must be a sqlite:/// or postgresql:// URL")
    if settings.redis_url:
        from .store.redis_target import parse_redis_url  # redis-py is imported only when a URL is set

        try:
            parse_redis_url(settings.redis_url)
        except ValueError as exc:
            errors.append(str(exc))
    if settings.env not in {"development", "production", "test"}:
        errors.append(f"BROKER_ENV must be development, test or production, got {settings.env!r}")
    if settings.env == "production":
        errors += [message for wrong, message in (
            (not settings.secret_key, "BROKER_SECRET_KEY is required in production"),
            (settings.embedded_store, "REDIS_URL is required in production (the embedded store serves one process)"),
            (settings.database_url.startswith("sqlite:"), "DATABASE_URL must point to PostgreSQL in production"),
            (not settings.is_https, "BROKER_BASE_URL must be https in production")) if wrong]
    if settings.secret_key is not None and len(settings.secret_key) < 32:
        errors.append("BROKER_SECRET_KEY must be at least 32 characters")
    if not isinstance(settings.domains, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in settings.domains.items()
    ):
        errors.append("domains must map host names to pool ids")
    for name, rules in _URLS.items():
        wrong = getattr(settings, name) and urls.problem(getattr(settings, name), **rules)
        if wrong:
            errors.append(f"{_ENV_NAME[name]} {wrong}, got {getattr(settings, name)!r}")
    if uses_data_dir(settings):
        errors += filter(None, [data_dir_problem(settings.data_dir)])
    if settings.themes_dir and not Path(settings.themes_dir).is_dir():
        errors.append(f"BROKER_THEMES_DIR {settings.themes_dir!r} is not a directory")
    from .userpool.passkey_origins import roots_problem  # (reads the bundle once, at start)

    roots = roots_problem(settings.passkey_attestation_roots)
    if roots:
        errors.append(roots)
    if settings.log_format not in {"", "json", "text"}:
        errors.append(f"BROKER_LOG_FORMAT must be json or text, got {settings.log_format!r}")
    token = settings.metrics_token
    if token is not None and (len(token) < 16 or not token.isprintable() or " " in token):
        errors.append("BROKER_METRICS_TOKEN must be at least 16 printable characters without spaces")
    if not re.fullmatch(r"[a-z]{2}(-[a-z0-9]+)+", settings.sts_region):
        errors.append(f"BROKER_STS_REGION must be an AWS region name such as eu-west-1, got {settings.sts_region!r}")
    for name, (low, high) in _RANGES.items():
        if not low <= int(getattr(settings, name)) <= high:
            errors.append(f"{_ENV_NAME[name]} must be between {low}{' (no limit)' * (name in _NO_LIMIT)} and {high}")
    errors += [f"{name} must be positive" for name in ("session_ttl", "login_ttl", "code_ttl", "max_content_length")
               if int(getattr(settings, name)) <= 0]
    return errors


def dev_secret_key(data_dir: str) -> str:
    """A development key kept in the data directory so restarts keep sessions valid."""
    path = Path(data_dir) / "dev-secret-key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
