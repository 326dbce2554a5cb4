"""broker.polling.PollingWorker under a real gunicorn master, spoken to over raw sockets:
kept-alive and pipelined requests, a slow request holding only its own thread, idle and
stalled connections closed, a request that came while every thread was busy kept, bad
requests answered 400, a graceful stop, the connection cap and the room kept under it,
``max_requests``, and TLS refused. (Cognate's recycling of workers: tests/test_serving.py.)"""
from __future__ import annotations

import contextlib
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import ROOT, _wait_port, free_port

GUNICORN = str(Path(sys.executable).parent / "gunicorn")


@contextlib.contextmanager
def serving(tmp_path: Path, *options: str) -> Iterator[tuple[int, subprocess.Popen, Path]]:
    """gunicorn with one PollingWorker serving tests/polling_app.py: (port, master, log)."""
    port, log = free_port(), tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        master = subprocess.Popen([GUNICORN, "-k", "broker.polling.PollingWorker", "-b", f"127.0.0.1:{port}",
                                   "--no-control-socket", "--chdir", str(ROOT), *options, "tests.polling_app:app"],
                                  stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_port(port, master)
        yield port, master, log
    finally:
        if master.poll() is None:
            master.terminate()
            master.wait(30)


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def get(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()


def read_response(reader) -> tuple[int, dict[str, str], bytes]:  # type: ignore[no-untyped-def]
    """One response from a socket's ``makefile("rb")``: status, headers (lower-case), body."""
    status = reader.readline()
    assert status.startswith(b"HTTP/1.1 "), status
    headers = {}
    while (line := reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status.split()[1]), headers, reader.read(int(headers.get("content-length", 0)))


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_a_connection_is_kept_alive_and_pipelined_requests_are_answered_in_order(tmp_path):
    with serving(tmp_path, "--threads", "2") as (port, _, _), connect(port) as sock:
        reader = sock.makefile("rb")
        sock.sendall(get("/first"))
        status, headers, body = read_response(reader)
        assert (status, headers["connection"]) == (200, "keep-alive") and body.startswith(b"/first ")
        pid = body.split()[1]
        echo = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello"
        sock.sendall(echo + get("/second") + get("/third"))  # one write: the last two are read ahead
        answers = [read_response(reader) for _ in range(3)]
        assert [(s, b) for s, _, b in answers] == [(200, b"hello"), (200, b"/second " + pid), (200, b"/third " + pid)]


def test_a_slow_request_holds_only_its_own_thread(tmp_path):
    with serving(tmp_path, "--threads", "2") as (port, _, _), connect(port) as slow, connect(port) as fast:
        slow.sendall(get("/sleep?seconds=3"))
        time.sleep(0.3)  # the slow request is under way in one thread
        fast.sendall(get("/fast"))
        status, _, body = read_response(fast.makefile("rb"))
        assert status == 200 and body.startswith(b"/fast ")
        assert select.select([slow], [], [], 0)[0] == []  # answered while the slow one still runs
        assert read_response(slow.makefile("rb"))[0] == 200


def test_an_idle_kept_alive_connection_is_closed_after_keepalive(tmp_path):
    with serving(tmp_path, "--keep-alive", "1") as (port, _, _), connect(port) as sock:
        sock.sendall(get("/once"))
        assert read_response(sock.makefile("rb"))[0] == 200
        sock.settimeout(8)  # closed within keepalive + the main thread's one-second round
        assert closed_by_server(sock)


def test_a_malformed_request_gets_400_and_the_worker_goes_on(tmp_path):
    with serving(tmp_path) as (port, _, log):
        with connect(port) as sock:
            sock.sendall(get("/before"))
            pid = read_response(sock.makefile("rb"))[2].split()[1]
        with connect(port) as sock:
            sock.sendall(b"GET /\x00nonsense HTTP/9.9\r\nHost test\r\n\r\n")
            reader = sock.makefile("rb")
            assert read_response(reader)[0] == 400
            assert closed_by_server(sock)
        with connect(port) as sock:
            sock.sendall(get("/after"))
            assert read_response(sock.makefile("rb"))[2] == b"/after " + pid  # the same worker
    assert "Traceback" not in log.read_text()


def test_a_stalled_or_vanished_client_frees_its_thread(tmp_path):
    """One thread: a client that stops in the middle of its headers holds it for gunicorn's
    timeout at most, and one that hangs up mid-request not at all."""
    with serving(tmp_path, "--threads", "1", "--timeout", "2") as (port, master, log):
        vanished = connect(port)
        vanished.sendall(b"GET /vanished HTTP/1.1\r\nHost:")
        vanished.close()
        with connect(port) as stalled, connect(port) as waiting:
            stalled.sendall(b"GET /stalled HTTP/1.1\r\nHost:")
            time.sleep(0.3)  # the only thread reads the stalled request
            waiting.sendall(get("/waiting"))
            status, _, body = read_response(waiting.makefile("rb"))
            assert status == 200 and body.startswith(b"/waiting ")
            assert closed_by_server(stalled)
        assert master.poll() is None
    assert "Traceback" not in log.read_text() and "WORKER TIMEOUT" not in log.read_text()


def test_a_stop_lets_the_request_under_way_finish(tmp_path):
    """A request that comes on a kept-alive connection while the worker stops is answered
    with ``Connection: close`` (RFC 9112, 9.6), as gthread does; an idle connection is closed
    after a short linger, not at the end of ``graceful_timeout``."""
    with serving(tmp_path, "--threads", "2", "--graceful-timeout", "30", "--keep-alive", "30") as (port, master, log), \
            connect(port) as sock, connect(port) as idle:
        idle.sendall(get("/idle"))
        assert read_response(idle.makefile("rb"))[0] == 200
        sock.sendall(get("/sleep?seconds=1.5"))
        time.sleep(0.3)
        master.send_signal(signal.SIGTERM)
        reader = sock.makefile("rb")
        status, _, body = read_response(reader)
        assert (status, body.split()[0]) == (200, b"/sleep")
        sock.sendall(get("/next"))  # on its way as the worker stops: answered, then closed
        status, headers, body = read_response(reader)
        assert (status, headers["connection"], body.split()[0]) == (200, "close", b"/next")
        assert closed_by_server(sock) and closed_by_server(idle)
        assert master.wait(15) == 0  # graceful_timeout is 30 s
        with pytest.raises(OSError):
            connect(port).close()  # nothing listens any more
    assert "Traceback" not in log.read_text()


def test_worker_connections_caps_the_open_connections(tmp_path):
    with serving(tmp_path, "--threads", "2", "--worker-connections", "2") as (port, _, _), \
            connect(port) as first, connect(port) as second:
        for sock in (first, second):
            sock.sendall(get("/sleep?seconds=2"))
        time.sleep(0.3)
        with connect(port) as third:  # the kernel's backlog takes it; the worker does not, yet
            third.sendall(get("/third"))
            assert select.select([third], [], [], 1.0)[0] == []
            status, _, body = read_response(third.makefile("rb"))  # once the first two are answered
            assert status == 200 and body.startswith(b"/third ")
        assert read_response(first.makefile("rb"))[0] == read_response(second.makefile("rb"))[0] == 200


def test_idle_connections_are_not_kept_up_to_the_cap(tmp_path):
    """Room is kept for as many new clients as the worker has threads, as gthread does:
    clients that keep their connections open cannot shut others out."""
    with serving(tmp_path, "--worker-connections", "4", "--keep-alive", "30") as (port, _, _):
        time.sleep(0.5)  # the start's probe connection is gone
        connections: list[socket.socket] = []
        try:
            answers = []
            for _ in range(4):  # one after the other, each kept open
                connections.append(sock := connect(port))
                sock.sendall(get("/kept"))
                answers.append(read_response(sock.makefile("rb"))[1]["connection"])
            assert answers == ["keep-alive", "keep-alive", "keep-alive", "close"]
            assert closed_by_server(connections[3])
        finally:
            for sock in connections:
                sock.close()


def test_a_worker_recycled_after_max_requests_answers_every_request(tmp_path):
    with serving(tmp_path, "--max-requests", "5") as (port, _, log):
        pids = set()
        for n in range(12):
            with connect(port) as sock:
                sock.sendall(get(f"/{n}"))
                status, _, body = read_response(sock.makefile("rb"))
                assert status == 200
                pids.add(body.split()[1])
    text = log.read_text()
    assert len(pids) >= 2 and text.count("Autorestarting worker after current request") >= 2, text[-2000:]
    assert "Traceback" not in text


def test_tls_in_the_worker_is_refused_with_the_reason(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    result = subprocess.run([GUNICORN, "-k", "broker.polling.PollingWorker", "-b", f"127.0.0.1:{free_port()}",
                             "--no-control-socket", "--chdir", str(ROOT), "--certfile", str(cert), "--keyfile",
                             str(key), "tests.polling_app:app"], capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "terminate TLS at the proxy" in result.stdout + result.stderr, (result.stdout + result.stderr)[-2000:]
