"""Python trigger targets (``python:package.module:function``), run as a Lambda runs them:
``function(event, context)`` in a process of its own, so that a handler that hangs, leaks
or kills its interpreter costs one invocation and never the server.

Each server process keeps a small pool of worker processes, started on first use with
multiprocessing's ``forkserver`` method (a clean interpreter, never a fork of a threaded
server) and the server's environment, as a Lambda gets its environment variables. A
worker imports a handler's module once and keeps it, as a warm Lambda does. An
invocation that does not answer within the timeout has its worker killed; a worker that
died is replaced on the next call.

    workers = PythonWorkers(size=2, timeout=5.0)
    outcome = workers.invoke("handlers.signup:handler", event, "PreSignUp")
"""
from __future__ import annotations

import importlib
import json
import logging
import multiprocessing
import os
import queue
import select
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

log = logging.getLogger("broker.triggers")

#: What an invocation came to (``Outcome.kind``).
RETURNED, RAISED, TIMED_OUT, CRASHED, INVALID = "returned", "raised", "timed_out", "crashed", "invalid"


@dataclass(frozen=True)
class Outcome:
    """``value`` is the returned event (RETURNED), else the error's message."""

    kind: str
    value: Any


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


def _serve(conn: Connection, path: list[str]) -> None:
    """A worker's loop: one JSON ``[target, request_id, deadline, event]`` in, one JSON
    ``[kind, value]`` out, until the server closes the pipe."""
    sys.path[:0] = [p for p in path if p not in sys.path]
    handlers: dict[str, Any] = {}
    while True:
        try:
            target, request_id, deadline, event = json.loads(conn.recv_bytes())
        except (EOFError, OSError):
            return
        conn.send_bytes(_call(handlers, target, event, request_id, deadline))


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
    return json.dumps([kind, value], separators=(",", ":")).encode()


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{target} is not a function")
    return function


class _Worker:
    def __init__(self, ctx: Any) -> None:
        ours, theirs = ctx.Pipe()
        self.conn: Connection = ours
        self.process = ctx.Process(target=_serve, args=(theirs, list(sys.path)), daemon=True,
                                   name="cognate-trigger")
        self.process.start()
        theirs.close()
        self.answered = select.poll()  # one poll object per worker: no selector made per call
        self.answered.register(ours.fileno(), select.POLLIN)

    def call(self, message: bytes, deadline: float) -> bytes | None:
        """The worker's answer to ``message``, or None when none came by ``deadline``."""
        self.conn.send_bytes(message)
        if not self.answered.poll(max(0, int((deadline - time.time()) * 1000))):
            return None
        return self.conn.recv_bytes()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(1)
        self.conn.close()


#: Put in the idle queue when a worker is discarded: a caller waiting there may start one.
_FREED = object()


class PythonWorkers:
    """At most ``size`` worker processes for this server process (started lazily, replaced
    after a fork, a crash or a timeout, or when one died while idle); callers beyond them
    wait for a free one within the same timeout, and the handler gets what is left of it."""

    def __init__(self, size: int = 2, timeout: float = 5.0) -> None:
        self.size, self.timeout = size, timeout
        self._ctx = multiprocessing.get_context("forkserver")
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()  # workers, and _FREED places
        self._started = 0
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def invoke(self, target: str, event: dict[str, Any]) -> Outcome:
        """Run ``target`` (``module:function``) on ``event``; never raises for what the
        handler does."""
        began = time.time()
        deadline = began + self.timeout
        worker = self._take(deadline)
        if worker is None:
            return Outcome(TIMED_OUT, f"no free worker within {self.timeout:.2f} seconds: the handler never ran")
        waited = time.time() - began
        message = json.dumps([target, str(uuid.uuid4()), deadline, event], separators=(",", ":")).encode()
        try:
            answer = worker.call(message, deadline)
        except (EOFError, OSError):
            answer = b""
        if not answer:
            self._discard(worker)
            if answer is None:
                return Outcome(TIMED_OUT, self._timed_out(waited))
            return Outcome(CRASHED, "the handler's process exited")
        self._idle.put(worker)
        kind, value = json.loads(answer)
        return Outcome(kind, value)

    def _timed_out(self, waited: float) -> str:
        """Lambda's words, with the time spent waiting for a free worker told apart."""
        if waited < 0.01:
            return f"Task timed out after {self.timeout:.2f} seconds"
        return (f"Task timed out after {self.timeout - waited:.2f} seconds, "
                f"after waiting {waited:.2f} seconds for a free worker")

    def _take(self, deadline: float) -> _Worker | None:
        """An idle worker that is alive, a new one while fewer than ``size`` run, or the
        first one freed before ``deadline`` (None: none was)."""
        self._after_fork()
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                worker = self._start()
                if worker is None:
                    try:
                        worker = self._idle.get(timeout=max(0.0, deadline - time.time()))
                    except queue.Empty:
                        return None
            if worker is _FREED:
                continue  # a place freed: start a worker there
            if worker.process.is_alive():
                return worker
            self._discard(worker)  # died while idle: nobody's invocation is to blame

    def _start(self) -> _Worker | None:
        with self._lock:
            if self._started >= self.size:
                return None
            self._started += 1
        try:
            return _Worker(self._ctx)
        except BaseException:
            with self._lock:
                self._started -= 1
            raise

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._started -= 1
        self._idle.put(_FREED)

    def _after_fork(self) -> None:
        """A forked server process (a gunicorn worker) starts a pool of its own: the
        parent's pipes are not its to use."""
        if self._pid != os.getpid():
            with self._lock:
                if self._pid != os.getpid():
                    self._idle = queue.LifoQueue()
                    self._started, self._pid = 0, os.getpid()

    def close(self) -> None:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            if worker is not _FREED:
                worker.kill()
