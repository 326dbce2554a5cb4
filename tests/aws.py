"""Real AWS clients pointed at a test server: boto3's ``cognito-idp`` as every Python app
builds it (with retries off, so one call is one request), and the raw JSON 1.1 request the
SDKs send, for what boto3 refuses to send.

    idp = cognito_idp(broker.base_url)
    idp.sign_up(ClientId=client_id, Username="alice", Password="...")
    r = raw(broker.base_url, "SignUp", {"ClientId": client_id})
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

TARGET = "AWSCognitoIdentityProviderService"
CONTENT_TYPE = "application/x-amz-json-1.1"


def cognito_idp(base_url: str) -> Any:
    return boto3.client("cognito-idp", endpoint_url=base_url, region_name="us-east-1",
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def admin_idp(base_url: str, key: dict[str, str], region: str = "us-east-1") -> Any:
    """boto3's ``cognito-idp`` signing with an admin key (``broker admin-key create --json``)."""
    return boto3.client("cognito-idp", endpoint_url=base_url, region_name=region,
                        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                        config=Config(retries={"max_attempts": 1, "mode": "standard"}))


def aws_cli(base_url: str, key: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``aws cognito-idp ARGS`` (the AWS CLI of the test environment) against ``base_url``,
    signing with an admin key and reading no configuration of the machine's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
                "AWS_MAX_ATTEMPTS": "1", "AWS_PAGER": ""})
    command = [str(Path(sys.executable).parent / "aws"), "cognito-idp", *args, "--endpoint-url", base_url,
               "--region", "us-east-1", "--output", "json"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


def raw(base_url: str, operation: str, body: Any = None, data: bytes | str | None = None,
        headers: dict[str, str] | None = None) -> requests.Response:
    """POST one JSON 1.1 request; ``data`` sends bytes as they are instead of ``body``'s JSON."""
    sent = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": f"{TARGET}.{operation}", **(headers or {})}
    payload = data if data is not None else json.dumps(body if body is not None else {})
    return requests.post(base_url + "/", data=payload, headers=sent, timeout=10)


def error_code(exc: Any) -> str:
    """The AWS error code of a botocore ``ClientError``."""
    return exc.response["Error"]["Code"]


def refused(call: Any) -> tuple[str, str]:
    """The AWS error code and message ``call()`` is refused with (it must be refused)."""
    try:
        call()
    except ClientError as exc:
        return exc.response["Error"]["Code"], exc.response["Error"]["Message"]
    raise AssertionError("the call was not refused")


@contextmanager
def api_broker(tmp: Path, redis_url: str, **env: str) -> Iterator[Any]:
    """A server on SQLite and the given Redis for a module of API tests; it must log no traceback."""
    from tests.conftest import start_broker

    broker = start_broker(tmp, database_url=f"sqlite:///{tmp}/api.db", redis_url=redis_url, **env)
    try:
        yield broker
    finally:
        broker.stop()
        assert "Traceback" not in broker.log.read_text()
