"""Handlers that fail in each way a Lambda can: raise, hang, die, return nonsense."""
import os
import sys
import time

from tests.trigger_handlers.record import note


def refusing(message):
    """A handler that notes its event and raises ``message``, as a Lambda's error."""
    def handler(event, context):
        note(event)
        raise Exception(message)
    return handler


refuse = refusing("Sign-ups are closed today")
welcome_service_down = refusing("The welcome service is down")  # (a PostConfirmation's)
audit_service_down = refusing("The audit service is down")  # (a PostAuthentication's)


def hang(event, context):
    time.sleep(60)
    return event


def die(event, context):
    os._exit(3)


def not_json(event, context):
    return {"response": object()}


def holds_itself(event, context):
    """An answer that holds itself, from a handler that raised the recursion limit (as one
    that recurses deeply may): the worker must still answer, not run out of stack."""
    sys.setrecursionlimit(200_000)
    event["response"]["event"] = event
    return event


def no_response(event, context):
    return "yes"


def remaining(event, context):
    event["response"]["remaining"] = context.get_remaining_time_in_millis()
    event["response"]["request_id"] = context.aws_request_id
    event["response"]["function_name"] = context.function_name
    event["response"]["environment"] = os.environ.get("COGNATE_TEST_MARK")
    return event


def pid(event, context):
    event["response"]["pid"] = os.getpid()
    return event


def leave_behind(event, context):
    """Starts a process that outlives the handler's worker (a shell's ``cmd &``, say) and
    hands it whatever descriptors the worker may pass on."""
    import subprocess

    event["response"]["left"] = subprocess.Popen(["sleep", "30"], close_fds=False).pid
    event["response"]["pid"] = os.getpid()
    return event
