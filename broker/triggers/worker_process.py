"""A Python trigger worker process, the side of :mod:`.workers` that runs the handlers: a
fresh interpreter that imports this module and the handlers only, reads each invocation
from one pipe and writes its answer to the other, and calls ``function(event, context)``
with the parts of AWS Lambda's context object a Cognito handler uses.

Both ways, a message is its length (4 bytes, big-endian) and its bytes. The server sends
JSON ``[target]`` (import it) or ``[target, request_id, deadline, event]`` (call it); the
worker answers :data:`READY` once started, then one JSON ``[kind, value]`` for each message
(kinds: :mod:`.outcome`).
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import struct
import sys
import time
import traceback
from typing import Any

from .outcome import CRASHED, INVALID, RAISED, RETURNED

log = logging.getLogger("broker.triggers")


class LambdaContext:
    """The parts of AWS Lambda's Python context object a Cognito handler uses
    (https://docs.aws.amazon.com/lambda/latest/dg/python-context.html)."""

    def __init__(self, function_name: str, request_id: str, deadline: float) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"python:{function_name}"
        self.memory_limit_in_mb = 128
        self.aws_request_id = request_id
        self.log_group_name = f"/cognate/triggers/{function_name}"
        self.log_stream_name = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def main(requests: int, answers: int, path: str) -> None:
    """A worker process's entry (:data:`PROGRAM`): the server's ``sys.path``, then :func:`_serve`.
    The pipes are the worker's alone: a process its handler leaves running must not hold
    them open after the worker has gone (the server would take that worker for alive)."""
    os.set_inheritable(requests, False)
    os.set_inheritable(answers, False)
    sys.path[:0] = [p for p in json.loads(path) if p not in sys.path]
    _serve(Frames(requests), answers)


def _serve(requests: Frames, answers: int) -> None:
    """A worker's loop: ``READY`` once started; then for each JSON ``[target]`` (load it)
    or ``[target, request_id, deadline, event]`` (call it) one JSON ``[kind, value]``,
    until the server closes the pipe."""
    handlers: dict[str, Any] = {}
    try:
        send_message(answers, READY)
        while (message := requests.next()) is not None:
            request = json.loads(message)
            if len(request) == 1:
                send_message(answers, _preload(handlers, request[0]))
                continue
            target, request_id, deadline, event = request
            send_message(answers, _call(handlers, target, event, request_id, deadline))
    except OSError:  # the server has gone
        return


#: Messages both ways are compact JSON, written by encoders made once (``json.dumps`` with
#: options makes one per call). The server's (:func:`encode`) skips the record of the
#: containers it has entered, since it encodes only events it built itself; a handler's
#: answer is checked for cycles (:func:`_answer`), which a raised recursion limit would
#: otherwise let overflow the worker's stack.
encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
_encode_answer = json.JSONEncoder(separators=(",", ":")).encode
#: What a worker writes once it has started, before any JSON.
READY = b"ready"
#: A message's length, before it on the pipe.
HEADER = struct.Struct("!I")
#: The most read from a pipe at once (a pipe's usual capacity): a whole message, mostly.
CHUNK = 65536


def send_message(fd: int, message: bytes) -> None:
    """One message: its length and itself, in one write where the pipe takes it."""
    data = memoryview(HEADER.pack(len(message)) + message)
    while data:
        data = data[os.write(fd, data):]


class Frames:
    """The messages coming on a pipe, read as they come: one read takes all the pipe holds,
    so a message costs one system call where it has arrived whole (each is one more point
    where the calling thread lets go of the GIL and may wait to get it back)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = bytearray()

    def next(self) -> bytes | None:
        """The next message, waiting for it (a blocking pipe); None at the end of the pipe."""
        while (message := self.ready()) is None:
            if not self.fill():
                return None
        return message

    def ready(self) -> bytes | None:
        """The next message if it has arrived whole, taken from what was read."""
        if len(self._buffer) < HEADER.size:
            return None
        end = HEADER.size + HEADER.unpack_from(self._buffer)[0]
        if len(self._buffer) < end:
            return None
        message = bytes(self._buffer[HEADER.size:end])
        del self._buffer[:end]
        return message

    def fill(self) -> bool:
        """Read what the pipe holds (False: its end); a pipe set not to block raises
        BlockingIOError when it holds nothing."""
        chunk = os.read(self.fd, CHUNK)
        self._buffer += chunk
        return bool(chunk)



def _preload(handlers: dict[str, Any], target: str) -> bytes:
    try:
        handlers.setdefault(target, _load(target))
    except Exception as exc:  # noqa: BLE001 (reported at the call, as Lambda's Runtime.ImportModuleError)
        log.info("trigger %s does not load: %s: %s", target, type(exc).__name__, exc)
    return _answer(RETURNED, None)


def _call(handlers: dict[str, Any], target: str, event: Any, request_id: str, deadline: float) -> bytes:
    """The answer to one invocation, encoded: the handler's return value travels as JSON
    once, which is also the check that it is JSON."""
    try:
        function = handlers.get(target) or handlers.setdefault(target, _load(target))
    except Exception as exc:  # noqa: BLE001 (a module that does not import is the handler's fault)
        return _answer(CRASHED, f"Runtime.ImportModuleError: {type(exc).__name__}: {exc}")
    try:
        result = function(event, LambdaContext(target, request_id, deadline))
    except Exception as exc:  # noqa: BLE001 (the handler's own error: Cognito shows its message)
        log.info("trigger %s raised: %s", target, "".join(traceback.format_exception_only(exc)).strip())
        return _answer(RAISED, str(exc))
    try:
        return _answer(RETURNED, result)
    except (TypeError, ValueError, RecursionError) as exc:
        return _answer(INVALID, f"the handler returned what is not JSON: {exc}")


def _answer(kind: str, value: Any) -> bytes:
    return _encode_answer([kind, value]).encode()


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{target} is not a function")
    return function


#: A worker's program: this module's loop on the two pipes it is given.
PROGRAM = ("import sys; from broker.triggers.worker_process import main; "
           "main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])")
