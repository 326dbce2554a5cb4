"""Cognate's gunicorn worker: threads that each take the next ready connection themselves.

gunicorn's ``gthread`` worker polls in its main thread and hands each ready connection to a
thread pool, then the finished connection back to the main thread: two hand-offs of the GIL
and a pipe write per request, about 50 µs of CPU (bench/README.md, "A worker without
hand-offs"). Here every thread waits on one shared epoll set in which each connection is
armed once (``EPOLLONESHOT``): the kernel wakes one thread for a ready connection, that
thread reads the request, answers it and re-arms the connection. A request that waits (an
Argon2 hash, the database) holds only its own thread, as with gthread. HTTP parsing, the
WSGI environ, responses, errors and hooks are gunicorn's own; so are the arbiter, its
signals and ``max_requests`` (:mod:`.recycling` works as is).

Linux only (epoll); TLS is for the proxy in front (``certfile`` set: the worker refuses to
start). :data:`WORKER_CLASS` is gthread elsewhere.
"""
from __future__ import annotations

import errno
import os
import select
import socket
import struct
import threading
import time
from datetime import datetime
from typing import Any

from gunicorn import http, util
from gunicorn.http import wsgi
from gunicorn.workers import base

#: Wait for a request on a connection, armed once: after a thread takes it, no other thread
#: is woken for it until it is armed again. RDHUP: a client that hangs up is read (and
#: dropped) at once.
ARMED = select.EPOLLIN | select.EPOLLONESHOT | select.EPOLLRDHUP if hasattr(select, "epoll") else 0
#: How long a stopping worker keeps idle kept-alive connections open, for a request a client
#: may be sending already (answered with ``Connection: close``), as gthread does.
STOP_LINGER = 2.0
#: How long an answered request's unread body may take to drain before the connection is
#: closed instead of kept alive (gthread's figure).
DRAIN_SECONDS = 5.0
#: accept() errors that say the process or the system is out of something (descriptors,
#: buffers): the listeners rest until a connection closes or the main thread's next round.
EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)

#: The worker class of ``broker serve`` and deploy/gunicorn.conf.py.
WORKER_CLASS = "broker.polling.PollingWorker" if hasattr(select, "epoll") else "gthread"


class Connection:
    """A client connection: its socket, its request parser, and whether a thread has it."""

    __slots__ = ("sock", "fd", "client", "server", "parser", "idle_since", "busy")

    def __init__(self, sock: socket.socket, client: Any, server: Any, cfg: Any) -> None:
        self.sock, self.fd, self.client, self.server = sock, sock.fileno(), client, server
        self.parser = http.get_parser(cfg, sock, client)
        self.idle_since, self.busy = time.monotonic(), False


class PollingWorker(base.Worker):
    """``cfg.threads`` threads serve the connections; the main thread keeps the heartbeat,
    closes connections idle past ``keepalive`` and stops the worker gracefully."""

    def init_process(self) -> None:
        if self.cfg.is_ssl:
            raise RuntimeError("broker.polling.PollingWorker serves plain HTTP: terminate TLS at the proxy, "
                               "or set worker_class = 'gthread'")
        self.epoll = select.epoll()
        self.connections: dict[int, Connection] = {}
        self.lock = threading.Lock()
        self.nr_conns = 0  # open connections (read by broker.serving.worker_exit)
        self.accepting = False
        self.serving = True  # threads poll until the main thread ends the worker
        self.listeners = {s.fileno(): s for s in self.sockets}
        super().init_process()

    def handle_quit(self, sig: int, frame: Any) -> None:
        self.serving = False  # SIGQUIT, SIGINT: no new request; the exit waits for those under way
        super().handle_quit(sig, frame)

    def handle_abort(self, sig: int, frame: Any) -> None:
        self.serving = False
        super().handle_abort(sig, frame)

    # -- the main thread ------------------------------------------------------------------

    def run(self) -> None:
        for listener in self.sockets:
            listener.setblocking(False)
            self.epoll.register(listener.fileno(), ARMED)
        self.accepting = True
        # Not daemons: a worker that exits lets the requests under way finish (worker_exit).
        for n in range(self.cfg.threads):
            threading.Thread(target=self._serve_forever, name=f"http-{n}").start()
        while self.alive:
            self.notify()
            self._sleep(1.0)
            if self.ppid != os.getppid():
                self.log.info("Parent changed, shutting down: %s", self)
                break
            self._close_idle(time.monotonic() - self.cfg.keepalive)
            with self.lock:
                self._rearm_listeners()  # after an exhausted accept()
        self._stop()

    def _sleep(self, seconds: float) -> None:
        """Until ``seconds`` pass or a signal arrives (gunicorn's wake-up pipe)."""
        try:
            ready, _, _ = select.select([self.PIPE[0]], [], [], seconds)
            if ready:
                os.read(self.PIPE[0], 4096)
        except OSError as exc:
            if exc.errno not in (errno.EINTR, errno.EAGAIN):
                raise

    def _wake(self) -> None:
        """The main thread, out of :meth:`_sleep`."""
        try:
            os.write(self.PIPE[1], b".")
        except OSError:  # the pipe is full: it wakes anyway
            pass

    def _stop(self) -> None:
        """No new connections; requests under way finish within ``graceful_timeout``; idle
        connections get :data:`STOP_LINGER` for a request already on its way."""
        self.alive = False
        with self.lock:
            for fd in self.listeners:
                self.epoll.unregister(fd)
            self.accepting = False
        linger_until = time.monotonic() + min(STOP_LINGER, self.cfg.graceful_timeout)
        give_up = time.monotonic() + self.cfg.graceful_timeout
        while self.nr_conns and time.monotonic() < give_up:
            self.notify()
            if time.monotonic() >= linger_until:
                self._close_idle(float("inf"))
            self._sleep(0.05)
        self.serving = False
        with self.lock:
            for connection in list(self.connections.values()):
                if not connection.busy:
                    self._drop(connection)
        for listener in self.sockets:
            listener.close()

    def _close_idle(self, idle_before: float) -> None:
        """Close the connections that wait for a request since before ``idle_before``; not
        those whose request came while every thread was busy."""
        with self.lock:
            for connection in [c for c in self.connections.values()
                               if not c.busy and c.idle_since < idle_before]:
                if not _has_bytes(connection.sock):
                    self._drop(connection)

    def _drop(self, connection: Connection) -> None:
        """Close an idle connection (the lock held)."""
        if self._forget(connection):
            connection.sock.close()
            self._closed()

    def _forget(self, connection: Connection) -> bool:
        """Out of the epoll set and the table, still counted (the lock held); False when it
        was not there."""
        if self.connections.pop(connection.fd, None) is None:
            return False
        try:
            self.epoll.unregister(connection.fd)
        except (OSError, ValueError):
            pass
        return True

    def _closed(self) -> None:
        """A connection less (the lock held)."""
        self.nr_conns -= 1
        self._rearm_listeners()

    def _rearm_listeners(self) -> None:
        """Accept again once below ``worker_connections`` (the lock held)."""
        if self.alive and not self.accepting and self.nr_conns < self.cfg.worker_connections:
            for fd in self.listeners:
                self.epoll.modify(fd, ARMED)
            self.accepting = True

    # -- the serving threads --------------------------------------------------------------

    def _serve_forever(self) -> None:
        while self.serving:
            try:
                events = self.epoll.poll(0.5, 1)
            except OSError as exc:
                if exc.errno == errno.EBADF or not self.serving:  # the worker is ending
                    return
                raise
            for fd, _ in events:
                try:
                    if fd in self.listeners:
                        self._accept(self.listeners[fd])
                    else:
                        self._take(fd)
                except Exception:  # a bug here must not end the thread
                    self.log.exception("Error in a serving thread")

    def _accept(self, listener: socket.socket) -> None:
        exhausted = False
        try:
            while self.alive and self.nr_conns < self.cfg.worker_connections:
                try:
                    sock, client = listener.accept()
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as exc:
                    if exc.errno in (errno.ECONNABORTED, errno.EPROTO):  # the client left first
                        continue
                    if exc.errno not in EXHAUSTED:
                        raise
                    self.log.error("Cannot accept connections for now: %s", exc)
                    exhausted = True
                    break
                sock.setblocking(True)
                if self.cfg.timeout:
                    # A read or write that waits longer than gunicorn's timeout (a client
                    # that stopped in the middle of a request) frees the thread; the
                    # heartbeat does not cover the threads. As with gthread, a client that
                    # trickles a byte at a time is not bounded: the proxy in front buffers
                    # requests. In the kernel: a Python socket timeout would poll before
                    # every read and write.
                    limit = struct.pack("ll", self.cfg.timeout, 0)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
                connection = Connection(sock, client, listener.getsockname(), self.cfg)
                with self.lock:
                    self.connections[connection.fd] = connection
                    self.nr_conns += 1
                    self.epoll.register(connection.fd, ARMED)
        finally:
            with self.lock:
                if self.alive and not exhausted and self.nr_conns < self.cfg.worker_connections:
                    self.epoll.modify(listener.fileno(), ARMED)
                else:
                    self.accepting = False  # armed again by _drop, below the limit

    def _take(self, fd: int) -> None:
        with self.lock:
            connection = self.connections.get(fd)
            if connection is None or connection.busy:  # closed meanwhile (its number reused)
                return
            connection.busy = True
        keep = closing = False
        try:
            keep = self._handle(connection)
        finally:
            if not self.alive:  # max_requests (or the recycling) stopped the worker: stop accepting now
                self._wake()
            with self.lock:
                connection.busy = False
                connection.idle_since = time.monotonic()
                if keep and self.serving:
                    self.epoll.modify(fd, ARMED)
                else:
                    closing = self._forget(connection)
            if closing:
                # RFC 9112, 9.6: half-close, then drain what the client still sends (a body
                # nobody read), so that the kernel does not reset the connection under the
                # response's last bytes.
                util.close_graceful(connection.sock)
                with self.lock:
                    self._closed()

    def _handle(self, connection: Connection) -> bool:
        """Answer the connection's requests that have arrived; whether to keep it open.
        gthread's handling: the same exceptions, logged or answered alike."""
        try:
            while True:
                req = None  # (a pipelined request's error is not logged with the one before)
                req = next(connection.parser)
                if not req:
                    return False
                if not self._respond(req, connection) or not connection.parser.finish_body(
                        deadline=time.monotonic() + DRAIN_SECONDS):
                    return False
                if not connection.parser.unreader.buf.getvalue():
                    return True
                # the client sent its next request already (pipelining): epoll will not
                # report bytes that were read ahead
        except http.errors.NoMoreData as exc:
            self.log.debug("Ignored premature client disconnection. %s", exc)
        except StopIteration as exc:
            self.log.debug("Closing connection. %s", exc)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.debug("Connection ended: %s", exc)
            else:
                self.log.exception("Socket error processing request.")
        except Exception as exc:
            self.handle_error(req, connection.sock, connection.client, exc)
        return False

    def _respond(self, req: Any, connection: Connection) -> bool:
        """One request through the WSGI app, as gthread's ``handle_request``; whether the
        connection may stay open."""
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            started = datetime.now()
            resp, environ = wsgi.create(req, connection.sock, connection.client, connection.server, self.cfg)
            environ["wsgi.multithread"] = True
            self.nr += 1
            if self.nr >= self.max_requests and self.alive:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            if not self.alive or not self.cfg.keepalive:
                resp.force_close()
            elif self.nr_conns > self.cfg.worker_connections - self.cfg.threads:
                # room kept for as many new clients as there are threads (gthread's rule):
                # kept-alive connections up to the cap would shut them out
                resp.force_close()
            respiter = self.wsgi(environ, resp.start_response)
            try:
                if isinstance(respiter, environ["wsgi.file_wrapper"]):
                    resp.write_file(respiter)
                else:
                    for item in respiter:
                        resp.write(item)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - started)
                if hasattr(respiter, "close"):
                    respiter.close()
            return not resp.should_close()
        except OSError:
            raise
        except (Exception, SystemExit):
            if resp and resp.headers_sent:  # a 500 now would corrupt the response under way
                self.log.exception("Error handling request")
                raise StopIteration()
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")


def _has_bytes(sock: socket.socket) -> bool:
    """Whether the client sent something not read yet (or hung up: a thread will see it)."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        return True
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:  # reset: a thread will see it too
        return True
