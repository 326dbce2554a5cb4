"""Webhook targets are bound by one wall-clock limit over the whole exchange: a receiver
that trickles its answer a byte at a time (each byte well within any per-read timeout)
is cut off at the limit, and the connection it held is not used again."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from broker.triggers.webhooks import Webhooks
from broker.triggers.outcome import RETURNED, TIMED_OUT

ANSWER = b'{"response": {}}'
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(ANSWER)


class Trickler:
    """A loopback HTTP server that reads each request and answers it ``delay`` seconds a byte
    from byte ``start`` on (the head, the body, or nothing: a prompt answer)."""

    def __init__(self, start: int, delay: float = 0.2) -> None:
        self.start, self.delay = start, delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _addr = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            try:
                while True:
                    request = b""
                    while b"\r\n\r\n" not in request:
                        got = conn.recv(65536)
                        if not got:
                            return
                        request += got
                    head, _, body = request.partition(b"\r\n\r\n")
                    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                      if line.lower().startswith(b"content-length")))
                    while len(body) < length:
                        body += conn.recv(65536)
                    answer = HEAD + ANSWER
                    conn.sendall(answer[:self.start])
                    for i in range(self.start, len(answer)):
                        if self.stopped.wait(self.delay):
                            return
                        conn.sendall(answer[i:i + 1])
            except OSError:
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def webhooks() -> Iterator[Webhooks]:
    yield Webhooks(timeout=1.0)


@pytest.mark.parametrize("start", [5, len(HEAD) + 3], ids=["head", "body"])
def test_a_trickled_answer_is_cut_off_at_the_limit(webhooks: Webhooks, start: int) -> None:
    slow, prompt = Trickler(start), Trickler(10_000)
    try:
        began = time.monotonic()
        outcome = webhooks.invoke(slow.url, {"response": {}}, "secret")
        took = time.monotonic() - began
        assert outcome.kind == TIMED_OUT, outcome
        assert 0.9 < took < 1.6, took  # the trickle would take several seconds more
        assert webhooks.invoke(prompt.url, {"response": {}}, "secret").kind == RETURNED  # the others go on
    finally:
        slow.close()
        prompt.close()


def test_answers_within_the_limit_reuse_their_connection(webhooks: Webhooks) -> None:
    prompt = Trickler(10_000)
    try:
        for _ in range(3):
            outcome = webhooks.invoke(prompt.url, {"response": {}}, "secret")
            assert (outcome.kind, outcome.value) == (RETURNED, {"response": {}})
        time.sleep(1.2)  # past a limit: an answered request is never cut afterwards
        assert webhooks.invoke(prompt.url, {"response": {}}, "secret").kind == RETURNED
    finally:
        prompt.close()
