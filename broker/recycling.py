"""Recycling a gunicorn worker without a gap: its replacement first, then its exit.

gunicorn recycles a worker after ``max_requests`` by stopping it (it accepts no more
connections and closes its kept-alive ones) and starts the replacement only once the
worker has gone. With one worker, or all of them busy, every client waits meanwhile: at the
token endpoint's rates that was a p99 of hundreds of milliseconds every few seconds. These
hooks change the order, the way a rolling deployment does it. Workers tell the master on a
pipe (and wake it with :data:`WAKE`, whose handler reads the pipe, so that signals sent
together count each message):

1. the worker about to reach its limit (``pre_request``) keeps serving and asks for its
   replacement: the master counts one worker more and gives that worker's pid to the worker
   it forks next (``pre_fork``);
2. the replacement boots (at idle priority where it may take the normal one back,
   ``post_fork``: on CPU time the old worker leaves unused), opens its connections, reads
   its pools' keys and starts their Python triggers' workers (which leave idle priority
   with it), then says it is ready (``post_worker_init``);
3. the master stops the old worker, its child still, gracefully (``SIGTERM``: in-flight
   requests answered, kept-alive connections closed);
4. when it has gone (``child_exit``) the master counts one worker less. A replacement that
   dies before it is ready leaves its old worker waiting for the next one.

On a core busy all the time, idle priority gets next to no CPU: after :data:`IDLE_BOOT`
seconds the old worker gives its replacement the normal priority. A worker whose
replacement never comes stops itself after :data:`REPLACEMENT_WAIT`, as gunicorn would have.
A reload (``SIGHUP``) replaces every worker anyway: the requests under way are forgotten.
Without :func:`open_channel` in the master (a configuration of its own), the hooks do
nothing and gunicorn recycles its way.
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("broker")

#: Seconds a worker past its limit waits for its replacement before it stops by itself.
REPLACEMENT_WAIT = 30.0
#: Seconds a replacement may boot at idle priority before the worker it replaces gives it
#: the normal one (on a busy core, idle priority gets next to no CPU).
IDLE_BOOT = 2.0
#: Scheduling policies of a replacement while it boots and afterwards (Linux; None elsewhere).
IDLE, NORMAL = getattr(os, "SCHED_IDLE", None), getattr(os, "SCHED_OTHER", None)
#: The master's wake-up: ignored by default, unused by gunicorn.
WAKE = signal.SIGURG
#: Messages on the pipe: (kind, pid), written at once (shorter than PIPE_BUF).
_MESSAGE = struct.Struct("=ii")
ASK, READY = 1, 2

#: The pipe from workers to the master (read end, write end); made by the master before it forks.
_channel: tuple[int, int] | None = None
#: The master (gunicorn's arbiter), in the master and, as forked, in its workers.
_server: Any = None
#: Whether a replacement may boot at idle priority: it can take the normal one back.
_idle_boot = False
#: In the master: workers waiting for a replacement (in the order they asked); every worker
#: that asked and has not exited; those whose replacement said it is ready.
_waiting: list[int] = []
_recycling: set[int] = set()
_replaced: set[int] = set()
#: In a worker: one request thread asks the master, once.
_asking = threading.Lock()


def open_channel(server: Any) -> None:
    """In the master, before the first fork (``when_ready``)."""
    global _channel, _server, _idle_boot
    if _channel is None:
        read, write = os.pipe()
        os.set_blocking(read, False)
        _channel = (read, write)
    _server = server
    _idle_boot = _idle_restorable() and server.cfg.uid == os.geteuid() and server.cfg.gid == os.getegid()
    signal.signal(WAKE, lambda signum, frame: _read())  # (never raises into the master's loop)


def on_reload(server: Any) -> None:
    """gunicorn hook, in the master: a reload starts every worker anew and counts them from
    the configuration again; the recycles under way are forgotten."""
    _read()
    _waiting.clear()
    _recycling.clear()
    _replaced.clear()


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn hook, in a worker: a request among the last ones (one per thread) asks for a
    replacement and takes the limit away. While it waits, a replacement still booting at idle
    priority after :data:`IDLE_BOOT` seconds gets the normal one; past
    :data:`REPLACEMENT_WAIT` without a replacement, the worker stops."""
    asked = getattr(worker, "replacement_asked", None)
    if asked is not None:
        waited = time.monotonic() - asked
        if waited > IDLE_BOOT and _idle_boot and not getattr(worker, "replacement_hurried", False):
            worker.replacement_hurried = True
            _hurry_siblings(worker)
        if waited > REPLACEMENT_WAIT and worker.alive:
            log.warning("worker %s: no replacement after %.0f s; stopping", worker.pid, REPLACEMENT_WAIT)
            worker.alive = False
        return
    if _channel is None or worker.nr + max(1, worker.cfg.threads) < worker.max_requests:
        return
    with _asking:
        if getattr(worker, "replacement_asked", None) is not None:
            return
        worker.replacement_asked = time.monotonic()
        worker.max_requests = sys.maxsize  # gunicorn's own stop would come first
    log.info("worker %s: %s requests served; starting its replacement", worker.pid, worker.nr)
    _tell(worker, ASK, worker.pid)


def recycled(worker: Any) -> bool:
    """Whether ``worker`` is leaving after its requests (this way or gunicorn's)."""
    return getattr(worker, "replacement_asked", None) is not None or \
        (bool(worker.max_requests) and worker.nr >= worker.max_requests)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master: the next worker replaces the first one waiting."""
    _read()
    worker.replaces = _waiting.pop(0) if _waiting else None


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in a new worker: the master's wake-up is no business of a worker's;
    a replacement boots at idle priority (``SCHED_IDLE``), on the CPU time left unused, so
    that the requests the old worker still answers do not wait for it (a boot costs about
    0.15 s of CPU, on the same cores)."""
    signal.signal(WAKE, signal.SIG_DFL)
    if getattr(worker, "replaces", None) is not None and _idle_boot:
        _schedule(IDLE)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, in the new worker once its app is built: a replacement opens its
    connections, reads its pools' keys and starts their Python triggers' workers, one per
    request thread (still at idle priority), takes the normal priority back (its trigger
    workers too), and tells the master it is ready."""
    old = getattr(worker, "replaces", None)
    if old is None:
        return
    try:
        warm = getattr(worker.wsgi, "extensions", {}).get("broker.warm")
        if warm is not None:
            warm(max(1, worker.cfg.threads))
    except Exception:  # a cold start, not a failed one: the requests will connect as usual
        log.warning("worker %s: warming up failed", worker.pid, exc_info=True)
    if _idle_boot and not _schedule(NORMAL):
        log.warning("worker %s: could not take the normal scheduling priority back", worker.pid)
    log.info("worker %s: ready; stopping worker %s, which it replaces", worker.pid, old)
    _tell(worker, READY, old)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master after a worker exited: one worker less for a recycled
    one; a replacement that died before it was ready leaves its old worker waiting again."""
    _read()
    old = getattr(worker, "replaces", None)
    if old in _recycling and old not in _replaced and old in server.WORKERS:
        _waiting.insert(0, old)
    if worker.pid in _recycling:
        _recycling.discard(worker.pid)
        _replaced.discard(worker.pid)
        if worker.pid in _waiting:
            _waiting.remove(worker.pid)
        server.num_workers -= 1


def _tell(worker: Any, kind: int, pid: int) -> None:
    """From a worker: one message to the master, and its wake-up (a master gone meanwhile is
    gunicorn's to notice; a worker left asking stops after :data:`REPLACEMENT_WAIT`)."""
    assert _channel is not None
    try:
        os.write(_channel[1], _MESSAGE.pack(kind, pid))
        os.kill(worker.ppid, WAKE)
    except OSError as exc:
        log.warning("worker %s: cannot tell the master: %s", worker.pid, exc)


def _read() -> None:
    """In the master (its wake-up's handler too): the messages written since the last read."""
    if _channel is None or _server is None:
        return
    asked = False
    while True:
        try:
            data = os.read(_channel[0], _MESSAGE.size * 256)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
                log.error("cannot read the workers' messages: %s", exc)
            break
        if not data:
            break
        for kind, pid in _MESSAGE.iter_unpack(data):
            if kind == ASK and pid not in _recycling:
                _recycling.add(pid)
                _waiting.append(pid)
                _server.num_workers += 1
                asked = True
            elif kind == READY and pid in _recycling and pid in _server.WORKERS:
                _replaced.add(pid)
                try:
                    os.kill(pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
    if asked:
        _server.wakeup()  # (the main loop forks the replacements)


def _idle_restorable() -> bool:
    """Whether this process may leave idle priority once it took it: an unprivileged one
    may not (without CAP_SYS_NICE, or RLIMIT_NICE at 20). Tried on a thread of its own."""
    if IDLE is None or NORMAL is None:
        return False
    outcome: list[bool] = []

    def trial() -> None:
        try:
            os.sched_setscheduler(0, IDLE, os.sched_param(0))
            os.sched_setscheduler(0, NORMAL, os.sched_param(0))
            outcome.append(True)
        except OSError:
            outcome.append(False)

    thread = threading.Thread(target=trial, name="cognate-priority-trial")
    thread.start()
    thread.join()
    return outcome == [True]


def _schedule(policy: int | None, pid: int | None = None) -> bool:
    """Every thread of process ``pid`` (this one by default) and of its children (the
    trigger workers a replacement started while warming up) under ``policy``; False if one
    could not be."""
    if policy is None:
        return False
    try:
        tasks = os.listdir(f"/proc/{pid or 'self'}/task")
    except OSError:
        tasks = [str(pid or 0)]  # (its main thread)
    done = True
    children: list[int] = []
    for task in tasks:
        try:
            os.sched_setscheduler(int(task), policy, os.sched_param(0))
        except ProcessLookupError:  # a thread gone meanwhile
            continue
        except OSError:
            done = False
        try:
            children += [int(c) for c in Path(f"/proc/{pid or 'self'}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    for child in children:
        done = _schedule(policy, child) and done
    return done


def _hurry_siblings(worker: Any) -> None:
    """The master's other workers still at idle priority (a replacement booting) get the
    normal one."""
    try:
        siblings = Path(f"/proc/{worker.ppid}/task/{worker.ppid}/children").read_text().split()
    except OSError:
        return
    for pid in map(int, siblings):
        try:
            if pid != worker.pid and os.sched_getscheduler(pid) == IDLE:
                _schedule(NORMAL, pid)
        except OSError:  # gone meanwhile
            pass


HOOKS = {"on_reload": on_reload, "pre_request": pre_request, "pre_fork": pre_fork, "post_fork": post_fork,
         "post_worker_init": post_worker_init}
