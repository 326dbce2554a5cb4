"""AWS Signature Version 4 on the calls every operation but the user-facing ones needs
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html), checked with
botocore's own signer: the request is rebuilt with exactly the headers the caller signed,
and botocore computes the signature an admin key's secret gives it.

Refused, as AWS refuses them, and before anything is read or written:
- no ``Authorization`` header → ``MissingAuthenticationTokenException``;
- an unknown key → ``UnrecognizedClientException``;
- a wrong signature, another service's scope, an ``X-Amz-Date`` more than 5 minutes away,
  a scope date that is not the request's, a signature that leaves out ``host``,
  ``content-type`` or any ``x-amz-*`` header sent (``X-Amz-Target`` names the operation),
  or a body whose hash is not the one signed → ``InvalidSignatureException``.
Any region is accepted: Cognate has one.

    key = verify(call, service="cognito-idp", body=request.get_data())
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from typing import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from ..store.models import AdminKey
from ..userpool import admin_keys
from .errors import AwsError

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = dt.timedelta(minutes=5)
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/\s,]{1,64})/(?P<date>\d{8})/(?P<region>[a-z0-9-]{1,32})/"
    r"(?P<service>[a-z0-9-]{1,32})/aws4_request,\s*SignedHeaders=(?P<signed>[a-z0-9;-]{1,1024}),"
    r"\s*Signature=(?P<signature>[0-9a-f]{64})")


class _Check(SigV4Auth):
    """botocore's signer over exactly the headers the caller signed, and over the body as
    received (never a hash the caller claims for it)."""

    def __init__(self, credentials: Credentials, service: str, region: str, signed: list[str]) -> None:
        super().__init__(credentials, service, region)
        self.signed = signed

    def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
        headers = HTTPHeaders()
        for name in self.signed:
            headers[name] = request.headers.get(name, "")
        return headers

    def payload(self, request: AWSRequest) -> str:
        return hashlib.sha256(request.body or b"").hexdigest()


def verify(session: object, headers: Mapping[str, str], body: bytes, host: str, service: str,
           now: dt.datetime | None = None) -> AdminKey:
    """The admin key that signed this ``POST /`` for ``service``, or :class:`AwsError`."""
    header = headers.get("Authorization")
    if not header:
        raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    parts = AUTHORIZATION.fullmatch(header.strip())
    if parts is None:
        raise _invalid("The Authorization header is not an AWS Signature Version 4 signature.")
    key = admin_keys.find(session, parts["key"])  # type: ignore[arg-type]
    if key is None:
        raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
    secret = admin_keys.secret_of(session, key)  # type: ignore[arg-type]
    stamp = headers.get("X-Amz-Date", "")
    _check_scope(parts, service, stamp, now or dt.datetime.now(dt.timezone.utc), list(headers.keys()))
    claimed = headers.get("X-Amz-Content-SHA256")
    if claimed is not None and claimed != hashlib.sha256(body).hexdigest():
        raise _invalid("The request body is not the one that was signed.")
    request = AWSRequest(method="POST", url=f"http://{host}/", data=body,
                         headers={**dict(headers.items()), "Host": headers.get("Host", host)})
    request.context["timestamp"] = stamp
    check = _Check(Credentials(key.id, secret or ""), parts["service"], parts["region"], parts["signed"].split(";"))
    expected = check.signature(check.string_to_sign(request, check.canonical_request(request)), request)
    if secret is None or not hmac.compare_digest(expected, parts["signature"]):
        raise _invalid("The request signature we calculated does not match the signature you provided. "
                       "Check your AWS Secret Access Key and signing method.")
    return key


def _check_scope(parts: re.Match[str], service: str, stamp: str, now: dt.datetime, present: list[str]) -> None:
    if parts["service"] != service:
        raise _invalid(f"Credential should be scoped to correct service: '{service}'.")
    signed = parts["signed"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        raise _invalid("The host and x-amz-date headers must be signed.")
    unsigned = sorted(name for name in (h.lower() for h in present)
                      if (name.startswith("x-amz-") or name == "content-type") and name not in signed)
    if unsigned:  # SigV4: every x-amz-* header sent is signed; else X-Amz-Target could be swapped
        raise _invalid(f"These headers must be signed: {', '.join(unsigned)}.")
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise _invalid("X-Amz-Date is missing or not in the form YYYYMMDDTHHMMSSZ.") from None
    if abs(now - when) > MAX_SKEW:
        raise _invalid("Signature expired: the request's X-Amz-Date is more than 5 minutes from the server's time.")
    if parts["date"] != stamp[:8]:
        raise _invalid("Credential should be scoped to a valid date: the date of X-Amz-Date.")


def _invalid(message: str) -> AwsError:
    return AwsError("InvalidSignatureException", message)
