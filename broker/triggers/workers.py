"""Python trigger targets (``python:package.module:function``), run as a Lambda runs them:
``function(event, context)`` in a process of its own, so that a handler that hangs, leaks
or kills its interpreter costs one invocation and never the server.

Each server process keeps a small pool of worker processes, started on first use as fresh
interpreters (never a fork of a threaded server) that import this module and the handlers
only, with the server's environment, as a Lambda gets its environment variables. A
worker imports a handler's module once and keeps it, as a warm Lambda does. A cold start
counts toward the invocation's timeout, as it does toward Cognito's 5 seconds; but a worker
still starting or importing when that invocation gives up is kept (for up to
:data:`INIT_TIMEOUT`), so that a busy machine warms up instead of killing every worker it
starts. An invocation that does not answer within the timeout has its worker killed; a
worker that died is replaced on the next call.

The caller waits while its worker runs, so the worker is kept on the caller's CPU (its
affinity follows the calling thread): a wake-up across cores costs more than the whole
call on a virtual machine (bench/README.md, "PreTokenGeneration triggers").

    workers = PythonWorkers(size=2, timeout=5.0)
    outcome = workers.invoke("handlers.signup:handler", event, "PreSignUp")
"""
from __future__ import annotations

import functools
import importlib
import itertools
import json
import logging
import subprocess
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

#: How long a worker may take to start or import a module (Lambda's init limit, seconds).
INIT_TIMEOUT = 10.0
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


def _child(requests: int, answers: int, path: str) -> None:
    """A worker process's entry (:data:`CHILD`): the server's ``sys.path``, then :func:`_serve`."""
    sys.path[:0] = [p for p in json.loads(path) if p not in sys.path]
    _serve(Connection(requests, writable=False), Connection(answers, readable=False))


def _serve(requests: Connection, answers: Connection) -> None:
    """A worker's loop: ``READY`` once started; then for each JSON ``[target]`` (load it)
    or ``[target, request_id, deadline, event]`` (call it) one JSON ``[kind, value]``,
    until the server closes the pipe."""
    handlers: dict[str, Any] = {}
    answers.send_bytes(READY)
    while True:
        try:
            message = json.loads(requests.recv_bytes())
        except (EOFError, OSError):
            return
        if len(message) == 1:
            answers.send_bytes(_preload(handlers, message[0]))
            continue
        target, request_id, deadline, event = message
        answers.send_bytes(_call(handlers, target, event, request_id, deadline))


READY = b"ready"


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
    return json.dumps([kind, value], separators=(",", ":")).encode()


def _load(target: str) -> Any:
    module, _, name = target.partition(":")
    function = getattr(importlib.import_module(module), name)
    if not callable(function):
        raise TypeError(f"{target} is not a function")
    return function


class _Worker:
    """One worker process: a fresh interpreter (``python -c``) that imports this module only
    (not the server's main module, as multiprocessing's start methods would), reached over
    two pipes of its own; its stdout and stderr are the server's."""

    def __init__(self) -> None:
        their_in, ours_out = os.pipe()
        ours_in, their_out = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(their_in), str(their_out), json.dumps(sys.path)],
                pass_fds=(their_in, their_out), stdin=subprocess.DEVNULL)
        except BaseException:
            os.close(ours_out)
            os.close(ours_in)
            raise
        finally:
            os.close(their_in)
            os.close(their_out)
        self.requests = Connection(ours_out, readable=False)
        self.answers = Connection(ours_in, writable=False)
        self.loaded: set[str] = set()
        #: Answers of init steps still to come (READY, then one per module loaded), and
        #: since when the latest step runs.
        self.pending, self.init_since = 1, time.time()
        self.cpu: int | None = None
        # poll objects made once: no selector or wait per call
        self.answered = select.poll()
        self.answered.register(ours_in, select.POLLIN)
        self.exited = _exit_watch(self.process.pid)

    def follow(self, cpu: int | None) -> None:
        """Keep the worker on the caller's CPU: the caller waits while it runs, and a wake-up
        on another core costs far more than the call itself on a virtual machine."""
        if cpu is not None and cpu != self.cpu:
            try:
                os.sched_setaffinity(self.process.pid, {cpu})
                self.cpu = cpu
            except OSError:
                pass

    def alive(self) -> bool:
        return not self.exited.poll(0) if self.exited is not None else self.process.poll() is None

    def load(self, target: str) -> None:
        """Have the worker import ``target`` (once; an import that fails is reported by the
        call that follows)."""
        self.requests.send_bytes(json.dumps([target]).encode())
        self.loaded.add(target)
        self.pending, self.init_since = self.pending + 1, time.time()

    def settle(self, deadline: float) -> bool:
        """Whether the worker's start and imports are done by ``deadline``."""
        while self.pending:
            if not self._wait(deadline):
                return False
            self.answers.recv_bytes()
            self.pending -= 1
        return True

    def call(self, message: bytes, deadline: float) -> bytes | None:
        """The worker's answer to ``message``, or None when none came by ``deadline``."""
        self.requests.send_bytes(message)
        return self.answers.recv_bytes() if self._wait(deadline) else None

    def _wait(self, deadline: float) -> bool:
        return bool(self.answered.poll(max(0, int((deadline - time.time()) * 1000))))

    def kill(self) -> None:
        self.process.kill()
        try:
            self.process.wait(1)
        except subprocess.TimeoutExpired:
            pass
        self.requests.close()
        self.answers.close()
        if self.exited is not None:
            self.exited.close()


#: A worker's program: this module's loop on the two pipes it is given.
CHILD = ("import sys; from broker.triggers.workers import _child; "
         "_child(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])")


class _ExitWatch:
    """A process's exit as a poll (Linux's pidfd): no system call but the poll per check."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._poll = select.poll()
        self._poll.register(fd, select.POLLIN)

    def poll(self, timeout: int) -> bool:
        return bool(self._poll.poll(timeout))

    def close(self) -> None:
        os.close(self.fd)


def _exit_watch(pid: int) -> _ExitWatch | None:
    try:
        return _ExitWatch(os.pidfd_open(pid))
    except (AttributeError, OSError):  # no pidfd here: Popen.poll instead
        return None


#: Put in the idle queue when a worker is discarded: a caller waiting there may start one.
_FREED = object()


@functools.cache
def _cpu_reader() -> Any:
    """libc's ``sched_getcpu`` (read from the vDSO: no system call), or None where there is none."""
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).sched_getcpu
    except (OSError, AttributeError):
        return None


def _current_cpu() -> int | None:
    """The CPU the calling thread runs on now (None: not known here)."""
    reader = _cpu_reader()
    cpu = reader() if reader is not None else -1
    return cpu if cpu >= 0 else None


class _RequestIds:
    """Lambda-like request ids (UUID-shaped), cheaper than a uuid4 per call: a random prefix
    per process and a counter."""

    def __init__(self) -> None:
        prefix = uuid.uuid4().hex
        self._prefix = f"{prefix[:8]}-{prefix[8:12]}-{prefix[12:16]}-{prefix[16:20]}-"
        self._numbers = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._numbers) & 0xFFFFFFFFFFFF:012x}"


class PythonWorkers:
    """At most ``size`` worker processes for this server process (started lazily, replaced
    after a fork, a crash or a timeout, or when one died while idle); callers beyond them
    wait for a free one within the same timeout, and the handler gets what is left of it."""

    def __init__(self, size: int = 2, timeout: float = 5.0) -> None:
        self.size, self.timeout = size, timeout
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue()  # workers, and _FREED places
        self._started = 0
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._ids = _RequestIds()

    def invoke(self, target: str, event: dict[str, Any]) -> Outcome:
        """Run ``target`` (``module:function``) on ``event``; never raises for what the
        handler does."""
        began = time.time()
        deadline = began + self.timeout
        worker = self._take(deadline)
        if worker is None:
            return Outcome(TIMED_OUT, f"no free worker within {self.timeout:.2f} seconds: the handler never ran")
        waited = time.time() - began
        try:
            if target not in worker.loaded:
                worker.load(target)
            if not worker.settle(deadline):
                return self._cold(worker)
            message = json.dumps([target, self._ids.next(), deadline, event], separators=(",", ":")).encode()
            worker.follow(_current_cpu())
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

    def _cold(self, worker: _Worker) -> Outcome:
        """The invocation's time ran out while its worker started or imported the handler:
        the worker goes on warming up for the next one, unless it has taken too long."""
        if time.time() - worker.init_since > INIT_TIMEOUT:
            self._discard(worker)
            log.error("a trigger worker did not start or import within %.0f seconds", INIT_TIMEOUT)
        else:
            self._idle.put(worker)
        return Outcome(TIMED_OUT, f"Task timed out after {self.timeout:.2f} seconds (a cold start)")

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
            if worker.alive():
                return worker
            self._discard(worker)  # died while idle: nobody's invocation is to blame

    def _start(self) -> _Worker | None:
        with self._lock:
            if self._started >= self.size:
                return None
            self._started += 1
        try:
            return _Worker()
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
