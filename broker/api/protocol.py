"""The AWS JSON 1.1 protocol at ``POST /``: what every AWS SDK, the AWS CLI, Amplify and
amazon-cognito-identity-js send to ``cognito-idp.<region>.amazonaws.com``.

A request names its operation in ``X-Amz-Target: AWSCognitoIdentityProviderService.<Op>``
and carries its input as a JSON object with ``Content-Type: application/x-amz-json-1.1``
(https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html). The answer is the output
object (``{}`` when empty) with the same content type and an ``x-amzn-RequestId``; an error
is ``{"__type": ..., "message": ...}`` plus ``x-amzn-ErrorType: <type>:`` and
``x-amzn-ErrorMessage``, as Cognito sends them. As AWS answers:

- an unknown target, or another content type (``application/json`` too: Cognito answers
  it with ``UnknownOperationException``) → ``UnknownOperationException``;
- a body that is not a JSON object, or a member of the wrong JSON type →
  ``SerializationException``; input breaking the model's constraints →
  ``InvalidParameterException`` (:mod:`.model`); a body over the size limit → 413;
- anything unexpected → ``InternalErrorException`` (500), logged, no trace sent.

Browsers call it cross-origin with the headers the SDKs add, so the preflight and every
answer carry CORS headers, with the error and request-id headers exposed to scripts.
"""
from __future__ import annotations

import json
import logging
import math
from typing import Any, NoReturn

from flask import Blueprint, Response, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from .. import ids, observability
from ..errors import BrokerError, TriggerFailed
from ..runtime import runtime
from ..triggers import invoke as triggers
from ..userpool import admin_keys
from ..web.pools import open_session
from . import errors, model, registry, sigv4
from .call import Call
from .errors import AwsError

log = logging.getLogger("broker.api")

bp = Blueprint("aws_api", __name__)

CONTENT_TYPE = "application/x-amz-json-1.1"
#: What the SDKs send from a browser (Amplify v6, amazon-cognito-identity-js, SDK v3).
ALLOWED_HEADERS = ("content-type, x-amz-target, x-amz-user-agent, amz-sdk-invocation-id, amz-sdk-request, "
                   "authorization, x-amz-date, x-amz-security-token, x-amz-content-sha256, cache-control")
EXPOSED_HEADERS = "x-amzn-RequestId, x-amzn-ErrorType, x-amzn-ErrorMessage, Date"
PREFLIGHT_MAX_AGE = "86400"


@bp.route("/", methods=["OPTIONS"], provide_automatic_options=False)
def preflight() -> Response:
    response = Response(status=200)
    response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return _cors(response)


@bp.post("/")
def dispatch() -> Response:
    request_id = ids.uuid4()
    try:
        response = _render(_answer(request_id), 200)
    except AwsError as exc:
        response = _error(exc)
    response.headers["x-amzn-RequestId"] = request_id
    return _cors(response)


def _answer(request_id: str) -> dict[str, Any]:
    """The operation's output, or :class:`AwsError`."""
    op = registry.find(request.headers.get("X-Amz-Target", ""))
    if op is None or request.mimetype != CONTENT_TYPE:
        raise errors.unknown_operation()
    raw = _raw_body()
    call = Call(session=open_session(), runtime=runtime(), ip=request.remote_addr or "-", request_id=request_id,
                operation=op.name, headers=request.headers)
    try:
        if not op.public:  # the signature first: an unsigned call learns nothing of its input's faults
            call.admin_key = sigv4.verify(call.session, request.headers, raw, request.host, op.service)
        params = _body(raw)
        model.validate(op.model, params)
        return _run(op, call, params)
    except AwsError:
        raise
    except (OperationalError, RedisError) as exc:
        _discard(call)
        log.error("backing store unavailable during %s: %s", op.name, exc)
        observability.backend_error("redis" if isinstance(exc, RedisError) else "database")
        raise errors.internal() from None
    except Exception:
        _discard(call)
        log.exception("unexpected error in %s", op.name)
        raise errors.internal() from None


def _run(op: registry.Operation, call: Call, params: dict[str, Any]) -> dict[str, Any]:
    """Run the operation; its session is committed when it returns or refuses (a refusal's
    audit records stay: operations refuse before writing anything else), never after a crash.
    A trigger can fail an operation halfway (CustomMessage once the user is stored): what it
    wrote then is rolled back, so that the call may be made again (the trigger's audit event
    is kept by :mod:`broker.triggers.journal`; the engine commits what a refused sign-in
    records before it raises)."""
    try:
        with triggers.acting(params.get("ClientId"), params.get("ClientMetadata")):
            result = op.handler(call, params)
    except TriggerFailed as exc:
        call.session.rollback()
        raise errors.from_broker(exc) from None
    except (AwsError, BrokerError) as exc:
        call.session.commit()
        raise exc if isinstance(exc, AwsError) else errors.from_broker(exc) from None
    if call.admin_key is not None:
        admin_keys.used(call.admin_key)  # shown by `broker admin-key list`: keys nobody uses can go
    call.session.commit()
    return result


def _discard(call: Call) -> None:
    """Roll the crashed operation's writes back (a lost connection may refuse even that)."""
    try:
        call.session.rollback()
    except Exception:  # noqa: BLE001 - the answer is already an internal error
        log.warning("rollback after a failed %s failed too", call.operation)


def _raw_body() -> bytes:
    try:
        return request.get_data(cache=False)
    except RequestEntityTooLarge:
        raise AwsError("SerializationException", "The request body is too large.", 413) from None


def _body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        params = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise errors.serialization("The request body is not valid JSON.") from None
    if isinstance(params, list):
        raise errors.serialization("Start of list found where not expected.")
    if not isinstance(params, dict):
        raise errors.serialization("Expected a JSON object.")
    if _has_nul(params):  # no text Cognito stores holds one, and PostgreSQL refuses it
        raise AwsError("InvalidParameterException", "1 validation error detected: a value contains a NUL character")
    return params


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _render(body: dict[str, Any], status: int) -> Response:
    return Response(json.dumps(body, separators=(",", ":"), default=_number), status=status, mimetype=CONTENT_TYPE)


def _number(value: Any) -> Any:
    """Timestamps are epoch seconds in JSON 1.1."""
    if hasattr(value, "timestamp"):
        return math.floor(value.timestamp() * 1000) / 1000
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _error(exc: AwsError) -> Response:
    body = {"__type": exc.type, "message": exc.message} if exc.message else {"__type": exc.type}
    response = _render(body, exc.status)
    response.headers["x-amzn-ErrorType"] = f"{exc.type}:"
    if exc.message:
        response.headers["x-amzn-ErrorMessage"] = _header_text(exc.message)
    return response


def _header_text(text: str) -> str:
    """A header carries one line of Latin-1: other characters are replaced."""
    return " ".join(text.split()).encode("ascii", "replace").decode()


def _cors(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
    return response
