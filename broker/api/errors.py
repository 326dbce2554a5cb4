"""AWS errors of the JSON protocol, and the one place where the project's own exceptions
become them.

On the wire an error is an HTTP status (400 for the caller's faults), a body
``{"__type": "NotAuthorizedException", "message": "..."}`` and the headers
``x-amzn-ErrorType`` / ``x-amzn-ErrorMessage``; botocore reads the code from ``__type``
(``parsers.BaseJSONParser._do_error_parse``), the JavaScript SDKs from the header first.
https://docs.aws.amazon.com/cognito-user-identity-pools/latest/APIReference/CommonErrors.html

    raise AwsError("NotAuthorizedException", "Incorrect username or password.")
"""
from __future__ import annotations

from ..errors import AttributeNotWritable, BrokerError, CodeMismatch, FormInvalid, GroupExists, InvalidInput, \
    LimitExceeded, NotFound, NotPermitted, PasswordRejected, PasswordReused, PreconditionNotMet, ResourceMissing, \
    ServiceUnavailable, SignInFailed, Throttled, TriggerInvalidResponse, TriggerRejected, TriggerUnexpected, \
    UnsupportedUserState, UserNotFound, UsernameExists


class AwsError(Exception):
    """An answer in AWS's error shape: ``type`` is the ``__type`` (the exception's name in
    the service model), ``message`` its text."""

    def __init__(self, type: str, message: str = "", status: int = 400) -> None:
        super().__init__(f"{type}: {message}")
        self.type = type
        self.message = message
        self.status = status


#: Project exceptions and the AWS error each one is, most specific first.
_MAPPED: tuple[tuple[type[BrokerError], str], ...] = (
    (TriggerRejected, "UserLambdaValidationException"),
    (TriggerUnexpected, "UnexpectedLambdaException"),
    (TriggerInvalidResponse, "InvalidLambdaResponseException"),
    (LimitExceeded, "LimitExceededException"),
    (Throttled, "TooManyRequestsException"),
    (SignInFailed, "NotAuthorizedException"),
    (NotFound, "ResourceNotFoundException"),
    (ServiceUnavailable, "InternalErrorException"),
    (PasswordReused, "PasswordHistoryPolicyViolationException"),
    (PasswordRejected, "InvalidPasswordException"),
    (CodeMismatch, "CodeMismatchException"),
    (AttributeNotWritable, "NotAuthorizedException"),
    (UserNotFound, "UserNotFoundException"),
    (UsernameExists, "UsernameExistsException"),
    (GroupExists, "GroupExistsException"),
    (ResourceMissing, "ResourceNotFoundException"),
    (UnsupportedUserState, "UnsupportedUserStateException"),
    (NotPermitted, "NotAuthorizedException"),
    (PreconditionNotMet, "PreconditionNotMetException"),
    (FormInvalid, "InvalidParameterException"),
    (InvalidInput, "InvalidParameterException"),
)


def from_broker(exc: BrokerError) -> AwsError:
    """The AWS error for one of the project's exceptions (:mod:`broker.errors`; one that
    names its ``aws_type`` is that, as :mod:`broker.identity.errors` does); a failed
    form check is answered with its first problem, a refused password in Cognito's words
    ("Password did not conform with policy: ...")."""
    aws_type = getattr(exc, "aws_type", None) or next(
        (name for kind, name in _MAPPED if isinstance(exc, kind)), "InvalidParameterException")
    message = exc.errors[0] if isinstance(exc, FormInvalid) and exc.errors else exc.message
    if isinstance(exc, PasswordRejected):
        message = f"Password did not conform with policy: {message}"
    status = 500 if aws_type == "InternalErrorException" else 400
    return AwsError(aws_type, message, status)


def unknown_operation() -> AwsError:
    return AwsError("UnknownOperationException")


def serialization(message: str) -> AwsError:
    return AwsError("SerializationException", message)


def internal() -> AwsError:
    return AwsError("InternalErrorException", "An internal error occurred. Try again.", 500)
