"""Recycling a gunicorn worker without a gap: its replacement first, then its exit.

gunicorn recycles a worker after ``max_requests`` by stopping it (it accepts no more
connections and closes its kept-alive ones) and starts the replacement only once the
worker has gone. With one worker, or all of them busy, every client waits meanwhile: at the
token endpoint's rates that was a p99 of hundreds of milliseconds every few seconds. These
hooks change the order, the way a rolling deployment does it:

1. the worker about to reach its limit (``pre_request``) keeps serving, tells the master
   its pid on a pipe and asks it for one worker more (``SIGTTIN``);
2. the master gives that pid to the worker it forks next (``pre_fork``);
3. the replacement boots at idle priority (``post_fork``), on CPU time the old worker leaves
   unused; once its app is built it opens its connections and reads its pools' keys, takes
   the normal priority back, and stops the old worker gracefully (``post_worker_init``;
   ``SIGTERM``: in-flight requests answered, kept-alive connections closed);
4. when the old worker has gone (``child_exit``) the master takes back the worker it added.

On a core busy all the time, idle priority gets next to no CPU: after :data:`IDLE_BOOT`
seconds the old worker gives its replacement the normal priority. A worker whose
replacement never comes stops itself after :data:`REPLACEMENT_WAIT`, as gunicorn would have. Without :func:`open_channel` in the master (a configuration of its
own), the hooks do nothing and gunicorn recycles its way.
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
_PID = struct.Struct("=i")

#: The pipe from workers to the master (read end, write end); made by the master before it forks.
_channel: tuple[int, int] | None = None
#: In the master: workers waiting for a replacement (in the order they asked), and every
#: worker that asked and has not exited yet.
_waiting: list[int] = []
_recycling: set[int] = set()
#: In a worker: one request thread asks the master, once.
_asking = threading.Lock()


def open_channel() -> None:
    """In the master, before the first fork (``when_ready``)."""
    global _channel
    if _channel is None:
        read, write = os.pipe()
        os.set_blocking(read, False)
        _channel = (read, write)


def pre_request(worker: Any, req: Any) -> None:
    """gunicorn hook, in a worker: the request before its last asks for a replacement and
    takes the limit away. While it waits, a replacement still booting at idle priority after
    :data:`IDLE_BOOT` seconds (a core busy all the time) gets the normal one; past
    :data:`REPLACEMENT_WAIT` without a replacement, the worker stops."""
    asked = getattr(worker, "replacement_asked", None)
    if asked is not None:
        waited = time.monotonic() - asked
        if waited > IDLE_BOOT and not getattr(worker, "replacement_hurried", False):
            worker.replacement_hurried = True
            _hurry_siblings(worker)
        if waited > REPLACEMENT_WAIT and worker.alive:
            log.warning("worker %s: no replacement after %.0f s; stopping", worker.pid, REPLACEMENT_WAIT)
            worker.alive = False
        return
    if _channel is None or worker.nr + 1 < worker.max_requests:
        return
    with _asking:
        if getattr(worker, "replacement_asked", None) is not None:
            return
        worker.replacement_asked = time.monotonic()
        worker.max_requests = sys.maxsize  # gunicorn's own stop would come first
    log.info("worker %s: %s requests served; starting its replacement", worker.pid, worker.nr)
    os.write(_channel[1], _PID.pack(worker.pid))
    os.kill(worker.ppid, signal.SIGTTIN)


def recycled(worker: Any) -> bool:
    """Whether ``worker`` is leaving after its requests (this way or gunicorn's)."""
    return getattr(worker, "replacement_asked", None) is not None or \
        (bool(worker.max_requests) and worker.nr >= worker.max_requests)


def _drain() -> None:
    """In the master: the pids written since the last read."""
    if _channel is None:
        return
    while True:
        try:
            data = os.read(_channel[0], _PID.size * 256)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                return
            raise
        pids = [p for (p,) in _PID.iter_unpack(data)]
        _waiting.extend(pids)
        _recycling.update(pids)


def pre_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master: the next worker replaces the first one waiting."""
    _drain()
    worker.replaces = _waiting.pop(0) if _waiting else None


def post_fork(server: Any, worker: Any) -> None:
    """gunicorn hook, in a new worker: a replacement boots at idle priority (``SCHED_IDLE``),
    on the CPU time left unused, so that the requests the old worker still answers do not
    wait for it (a boot costs about 0.15 s of CPU, on the same cores)."""
    if getattr(worker, "replaces", None) is not None:
        _schedule(IDLE)


def post_worker_init(worker: Any) -> None:
    """gunicorn hook, in the new worker once its app is built: the replacement opens its
    connections and reads its pools' keys (still at idle priority), takes the normal one
    back, and stops the old worker, if it is still the master's, gracefully."""
    old = getattr(worker, "replaces", None)
    if old is None:
        return
    try:
        warm = getattr(worker.wsgi, "extensions", {}).get("broker.warm")
        if warm is not None:
            warm()
    except Exception:  # a cold start, not a failed one: the requests will connect as usual
        log.warning("worker %s: warming up failed", worker.pid, exc_info=True)
    _schedule(NORMAL)
    if _parent(old) != worker.ppid:  # gone already (its pid possibly someone else's by now)
        return
    log.info("worker %s: ready; stopping worker %s, which it replaces", worker.pid, old)
    os.kill(old, signal.SIGTERM)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn hook, in the master after a worker exited: the worker added for a recycled
    one is taken back (unless the count was lowered meanwhile, ``SIGTTOU``)."""
    _drain()
    if worker.pid not in _recycling:
        return
    _recycling.discard(worker.pid)
    if worker.pid in _waiting:
        _waiting.remove(worker.pid)
    if server.num_workers > len(server.WORKERS):
        server.num_workers -= 1


def _schedule(policy: int | None, pid: int | None = None) -> None:
    """Every thread of process ``pid`` (this one by default) under ``policy``."""
    if policy is None:
        return
    try:
        tasks = os.listdir(f"/proc/{pid or 'self'}/task")
    except OSError:
        tasks = [str(pid or 0)]  # (its main thread)
    for task in tasks:
        try:
            os.sched_setscheduler(int(task), policy, os.sched_param(0))
        except OSError:  # gone, or not allowed: the boot competes as any process does
            pass


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


def _parent(pid: int) -> int | None:
    """The parent of ``pid`` (Linux's /proc); None when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


HOOKS = {"pre_request": pre_request, "pre_fork": pre_fork, "post_fork": post_fork, "post_worker_init": post_worker_init}
