"""Exceptions mapped in one place (:mod:`broker.web.errors`) to pages, JSON or CLI lines."""
from __future__ import annotations


class BrokerError(Exception):
    """Base class; ``message`` is safe to show to the user."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = str(message)


class InvalidInput(BrokerError):
    """Bad admin input (CLI or config): one clear line, nothing written."""


class PreconditionNotMet(InvalidInput):
    """An operation the object's state does not allow now (Cognito's ``PreconditionNotMetException``)."""


class NotFound(BrokerError):
    status = 404


class UserNotFound(InvalidInput):
    """An admin operation names a user the pool does not have (Cognito's
    ``UserNotFoundException``; the admin API tells, the user-facing one never does)."""


class UsernameExists(InvalidInput):
    """A user with this name is already in the pool (``UsernameExistsException``)."""


class GroupExists(InvalidInput):
    """A group with this name is already in the pool (``GroupExistsException``)."""


class ResourceMissing(InvalidInput):
    """A pool, group or linked identity an admin operation names does not exist
    (``ResourceNotFoundException``)."""


class UnsupportedUserState(InvalidInput):
    """The user's status does not allow the operation, such as an invitation resent to a
    user who already chose a password (``UnsupportedUserStateException``)."""


class NotPermitted(InvalidInput):
    """An operation the user's state refuses, such as confirming a confirmed user
    (``NotAuthorizedException``)."""


class HostedError(BrokerError):
    """Shown on the hosted error page, never as a redirect to an unverified URL."""

    def __init__(self, message: str, status: int = 400, back_url: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.back_url = back_url


class SignInFailed(BrokerError):
    """The one message for an unknown user, a wrong password or a disabled account."""

    status = 400


class Throttled(BrokerError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LimitExceeded(Throttled):
    """Too many codes asked for or guessed (Cognito's ``LimitExceededException``)."""


class FormInvalid(BrokerError):
    """A hosted form failed validation; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


class PasswordRejected(FormInvalid):
    """A new password the pool's rules refuse: policy, compromised list or history
    (Cognito's ``InvalidPasswordException``)."""


class PasswordReused(PasswordRejected):
    """A new password that is one of the user's last ones (Cognito's
    ``PasswordHistoryPolicyViolationException``)."""


class CodeMismatch(FormInvalid):
    """A one-time code that is wrong, expired, used or for nobody (Cognito's
    ``CodeMismatchException``: which of them is never told)."""


class AttributeNotWritable(InvalidInput):
    """A user attribute the app client may not set (Cognito's ``NotAuthorizedException``)."""


class TriggerFailed(FormInvalid):
    """A trigger refused or failed the operation (Cognito's Lambda errors); shown to the user
    on hosted forms as any form problem, answered over the API as its AWS type."""

    def __init__(self, message: str) -> None:
        super().__init__([message])


class TriggerRejected(TriggerFailed):
    """The handler raised or the webhook refused: "PreSignUp failed with error <message>."
    (Cognito's ``UserLambdaValidationException``)."""


class TriggerUnexpected(TriggerFailed):
    """The handler timed out, crashed or could not be reached (``UnexpectedLambdaException``)."""


class TriggerInvalidResponse(TriggerFailed):
    """The handler returned what is not the trigger's response (``InvalidLambdaResponseException``)."""


class ServiceUnavailable(BrokerError):
    status = 503
