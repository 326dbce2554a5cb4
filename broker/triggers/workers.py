"""Python trigger targets (``python:package.module:function``), run as a Lambda runs them:
``function(event, context)`` in a process of its own, so that a handler that hangs, leaks
or kills its interpreter costs one invocation and never the server.

Each server process keeps a small pool of worker processes, started on first use (or by a
recycled server process's replacement as it warms up, :meth:`PythonWorkers.warm`) as fresh
interpreters (never a fork of a threaded server) that import :mod:`.worker_process` and the
handlers only, with the server's environment, as a Lambda gets its environment variables. A
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
import itertools
import json
import logging
import os
import queue
import select
import subprocess
import sys
import threading
import time
import uuid
from typing import Any

from .outcome import CRASHED, TIMED_OUT, Outcome
from .worker_process import PROGRAM, Frames, encode, send_message

log = logging.getLogger("broker.triggers")

#: How long a worker may take to start or import a module (Lambda's init limit, seconds).
INIT_TIMEOUT = 10.0


class _Worker:
    """One worker process: a fresh interpreter (``python -c``) that imports
    :mod:`.worker_process` only (not the server's main module, as multiprocessing's start
    methods would), reached over two pipes of its own; its stdout and stderr are the server's."""

    def __init__(self) -> None:
        their_in, ours_out = os.pipe()
        ours_in, their_out = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", PROGRAM, str(their_in), str(their_out), json.dumps(sys.path)],
                pass_fds=(their_in, their_out), stdin=subprocess.DEVNULL)
        except BaseException:
            os.close(ours_out)
            os.close(ours_in)
            raise
        finally:
            os.close(their_in)
            os.close(their_out)
        self.requests = ours_out
        os.set_blocking(ours_in, False)  # an answer is read at once when it is there, else polled for
        self.answers = Frames(ours_in)
        self.loaded: set[str] = set()
        #: Answers of init steps still to come (READY, then one per module loaded), and
        #: since when the latest step runs.
        self.pending, self.init_since = 1, time.time()
        self.cpu: int | None = None
        # a poll object made once: no selector per call
        self.answered = select.poll()
        self.answered.register(ours_in, select.POLLIN)

    def follow(self, cpu: int | None) -> None:
        """Keep the worker on the caller's CPU: the caller waits while it runs, and a wake-up
        on another core costs far more than the call itself on a virtual machine."""
        if cpu is not None and cpu != self.cpu:
            try:
                os.sched_setaffinity(self.process.pid, {cpu})
                self.cpu = cpu
            except OSError:
                pass

    def load(self, target: str) -> None:
        """Have the worker import ``target`` (once; an import that fails is reported by the
        call that follows). BrokenPipeError: the worker has exited."""
        self.send(encode([target]).encode())
        self.loaded.add(target)
        self.pending, self.init_since = self.pending + 1, time.time()

    def settle(self, deadline: float) -> bool:
        """Whether the worker's start and imports are done by ``deadline``; EOFError: it exited."""
        while self.pending:
            if self._receive(deadline) is None:
                return False
            self.pending -= 1
        return True

    def send(self, message: bytes) -> None:
        """BrokenPipeError: the worker has exited (before it could read ``message``)."""
        send_message(self.requests, message)

    def answer(self, deadline: float) -> bytes | None:
        """The worker's answer, or None when none came by ``deadline``; EOFError: it exited."""
        return self._receive(deadline)

    def _receive(self, deadline: float) -> bytes | None:
        while (message := self.answers.ready()) is None:
            try:
                if not self.answers.fill():
                    raise EOFError
            except BlockingIOError:
                if not self.answered.poll(max(0, int((deadline - time.time()) * 1000))):
                    return None
        return message

    def kill(self) -> None:
        self.process.kill()
        try:
            self.process.wait(1)
        except subprocess.TimeoutExpired:
            pass
        os.close(self.requests)
        os.close(self.answers.fd)


#: Put in the idle queue when a worker is discarded: a caller waiting there may start one.
_FREED = object()


@functools.cache
def _cpu_reader() -> Any:
    """libc's ``sched_getcpu`` (read from the vDSO: no system call), or None where there is none."""
    try:
        import ctypes

        return ctypes.PyDLL(None).sched_getcpu  # (PyDLL: the call keeps the GIL, which it needs no time to)
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
        message = encode([target, self._ids.next(), deadline, event]).encode()
        while True:
            worker = self._take(deadline)
            if worker is None:
                return Outcome(TIMED_OUT, f"no free worker within {self.timeout:.2f} seconds: the handler never ran")
            try:
                worker.follow(_current_cpu())
                sent = target in worker.loaded and not worker.pending  # warm: the call goes at once
                if sent:
                    worker.send(message)
                elif target not in worker.loaded:
                    worker.load(target)
                elif worker.process.poll() is not None:  # still warming up, so nothing to write yet
                    raise BrokenPipeError
            except BrokenPipeError:  # it died while idle (the OOM killer, say): not this invocation's doing
                self._discard(worker)
                if time.time() < deadline:
                    continue
                return Outcome(TIMED_OUT, f"no worker started within {self.timeout:.2f} seconds: the handler never ran")
            break
        waited = time.time() - began
        try:
            if not sent:
                if not worker.settle(deadline):
                    return self._cold(worker)
                worker.send(message)
            answer = worker.answer(deadline)
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

    def warm(self, targets: list[str], count: int, deadline: float) -> int:
        """Start up to ``count`` more workers (``size`` in all at most) with ``targets``
        imported, before a call needs them: a recycled server process's replacement does
        so before it takes requests (:func:`broker.runtime.warm`; the workers are the
        callers' only once this returns). How many were ready by ``deadline``; the others
        are kept warming up, as a cold call keeps its worker."""
        self._after_fork()
        started: list[_Worker] = []
        try:
            while len(started) < count and (worker := self._start()) is not None:
                started.append(worker)
        except OSError as exc:  # out of processes or descriptors: the calls will start what they can
            log.warning("trigger workers not started: %s", exc)
        for worker in list(started):  # every worker imports while the first is waited for
            try:
                for target in targets:
                    worker.load(target)
            except OSError:  # it exited while starting (a broken pipe): the next call starts another
                started.remove(worker)
                self._discard(worker)
        ready = 0
        for worker in started:
            try:
                ready += worker.settle(deadline)
            except (EOFError, OSError):
                self._discard(worker)
                continue
            self._idle.put(worker)
        return ready

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
        """An idle worker, a new one while fewer than ``size`` run, or the first one freed
        before ``deadline`` (None: none was)."""
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
            if worker is not _FREED:  # (else a place freed: start a worker there)
                return worker

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
