"""The admin API's callers in tests: boto3 signing with an admin key, the AWS CLI (awscli v1,
the ``aws`` next to this interpreter) with the key in its environment, and a look at the
server's database to check what a refused call did not write.

    idp = admin(server, key)
    out = aws_cli(server, key, "describe-user-pool", "--user-pool-id", pool)
    rows(server, "SELECT name FROM user_pools WHERE id = :id", id=pool)
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import boto3
import sqlalchemy as sa
from botocore.config import Config

AWS = str(Path(sys.executable).with_name("aws"))
#: The CLI's configuration: values that look like URLs (callback URLs, resource-server
#: identifiers) are values, not files to fetch (awscli v1 fetches them by default).
CONFIG = "[default]\ncli_follow_urlparam = false\n"


def admin(server: Any, key: dict[str, str], region: str = "us-east-1") -> Any:
    """boto3's cognito-idp client signing with ``key`` (retries off: one call, one request)."""
    return boto3.client("cognito-idp", endpoint_url=server.base_url, region_name=region,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def aws_cli(server: Any, key: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """``aws cognito-idp ARGS --output json`` against ``server``, signing with ``key``; no
    configuration file of the machine is read."""
    with tempfile.TemporaryDirectory() as home:
        config = Path(home) / "config"
        config.write_text(CONFIG)
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, "HOME": home,
               "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(config),
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_MAX_ATTEMPTS": "1", "AWS_EC2_METADATA_DISABLED": "true"}
        return subprocess.run([AWS, "cognito-idp", *args, "--endpoint-url", server.base_url, "--output", "json"],
                              env=env, input=stdin, capture_output=True, text=True, timeout=60)


def cli_json(result: subprocess.CompletedProcess) -> dict[str, Any]:
    """The JSON an ``aws`` call printed (``{}`` for an empty answer); it must have succeeded."""
    assert result.returncode == 0, f"aws failed ({result.returncode}): {result.stderr}"
    return json.loads(result.stdout) if result.stdout.strip() else {}


def rows(server: Any, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """What the server's database holds, read over a connection of this test's own."""
    url = server.env["DATABASE_URL"]
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def snapshot(server: Any, pool_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every configuration row of a pool, to compare before and after a refused call."""
    tables = {"user_pools": "id", "app_clients": "pool_id", "identity_providers": "pool_id",
              "resource_servers": "pool_id", "ui_customizations": "pool_id"}
    return {table: sorted(rows(server, f"SELECT * FROM {table} WHERE {column} = :p", p=pool_id), key=repr)
            for table, column in tables.items()}
