"""moto's server (``moto[server]``, https://docs.getmoto.org/en/latest/docs/server_mode.html)
as the STS, IAM and S3 peer of the identity pools' tests, on a free loopback port in this
process: the roles Cognate's credentials are for, with inline policies, and a bucket to use
them on.

moto's STS issues credentials for any token (it never reads the WebIdentityToken), so what
Cognate refuses is proven at Cognate; what the credentials may do is proven at moto, with
its IAM enforcement switched on around the S3 calls only (:meth:`StsPeer.enforcing`): under
enforcement moto answers an unsigned AssumeRoleWithWebIdentity with a 500, so credentials
are obtained first. moto checks a role's inline policies (actions and resources, not
conditions or policy variables) and names a listing ``s3:ListObjectsV2``, which the
read-only policy allows beside AWS's ``s3:ListBucket``.

    with sts_peer.enforcing():
        s3 = sts_peer.client("s3", credentials)
        s3.get_object(Bucket=sts_peer.bucket, Key="hello.txt")
"""
from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

ACCOUNT = "123456789012"
REGION = "us-east-1"
#: The key moto's own set-up calls are made with (moto accepts any before enforcement).
SETUP_KEY = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "setup"}
OBJECT = "hello.txt"
CONTENT = b"hello from moto"


def assumed_role(role_name: str) -> str:
    """The assumed-role ARN of credentials Cognito obtained for ``role_name`` (its session name)."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/CognitoIdentityCredentials"


def trust_policy() -> str:
    """What a role Cognito assumes trusts (moto does not evaluate it; AWS would)."""
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "cognito-identity.amazonaws.com"},
        "Action": "sts:AssumeRoleWithWebIdentity"}]})


@dataclass
class StsPeer:
    url: str
    server: Any
    bucket: str = field(default_factory=lambda: f"cognate-{secrets.token_hex(4)}")

    def client(self, service: str, credentials: dict[str, Any] | None = None) -> Any:
        """boto3's ``service`` client at moto, with Cognito-shaped ``credentials`` (AccessKeyId,
        SecretKey, SessionToken) or the set-up key; path-style S3, one request per call."""
        keys = SETUP_KEY if credentials is None else {
            "aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretKey"],
            "aws_session_token": credentials["SessionToken"]}
        config = Config(retries={"max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"})
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, config=config, **keys)

    def role(self, name: str, actions: list[str], resources: list[str] | None = None) -> str:
        """A role allowing ``actions`` on the bucket and its objects (or ``resources``); its ARN."""
        iam = self.client("iam")
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust_policy())["Role"]["Arn"]
        bucket = f"arn:aws:s3:::{self.bucket}"
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources or [bucket, f"{bucket}/*"]}]}
        iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
        return arn

    def reader(self, name: str) -> str:
        """A role that may read the bucket and nothing else."""
        return self.role(name, ["s3:GetObject", "s3:ListBucket", "s3:ListObjectsV2"])

    @contextmanager
    def enforcing(self) -> Iterator[None]:
        """moto's IAM enforcement on for the block: every request must be signed by a key whose
        policies allow it."""
        self._reset_auth("0")
        try:
            yield
        finally:
            self._reset_auth("inf")

    def _reset_auth(self, count: str) -> None:
        answer = requests.post(f"{self.url}/moto-api/reset-auth", data=count, timeout=10)
        assert answer.status_code == 200, answer.text

    def caller(self, credentials: dict[str, Any]) -> str:
        """The ARN ``sts get-caller-identity`` shows for ``credentials``."""
        return self.client("sts", credentials).get_caller_identity()["Arn"]

    def stop(self) -> None:
        self.server.stop()


def start() -> StsPeer:
    """moto on 127.0.0.1 (a free port), reset, with a bucket holding one object."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    peer = StsPeer(url=f"http://{host}:{port}", server=server)
    requests.post(f"{peer.url}/moto-api/reset", timeout=10).raise_for_status()
    s3 = peer.client("s3")
    s3.create_bucket(Bucket=peer.bucket)
    s3.put_object(Bucket=peer.bucket, Key=OBJECT, Body=CONTENT)
    return peer


@pytest.fixture(scope="module")
def sts_peer() -> Iterator[StsPeer]:
    peer = start()
    try:
        yield peer
    finally:
        peer.stop()
