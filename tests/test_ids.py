"""The token and request ids: UUIDs version 4, never the same twice, across threads and forks."""
from __future__ import annotations

import os
import sys
import threading
import uuid

from broker import ids


def test_ids_are_version_4_uuids_in_their_usual_form() -> None:
    made = [ids.uuid4() for _ in range(600)]  # more than one block
    for value in made:
        parsed = uuid.UUID(value)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == value
    assert len(set(made)) == len(made)
    hex_id = ids.hex32()
    assert len(hex_id) == 32 and uuid.UUID(hex=hex_id).version == 4


def test_threads_never_share_an_id() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(into: list[str]) -> None:
        into.extend(ids.uuid4() for _ in range(3000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads interleave between any two steps of making an id
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    every = [value for into in made for value in into]
    assert len(set(every)) == len(every) == 12000


def test_a_forked_process_does_not_repeat_its_parents_next_ids() -> None:
    ids.uuid4()  # this thread's block is read: the child would inherit it
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child (a gunicorn worker, say): its next ids, to the parent
        try:
            os.write(writer, ",".join(ids.uuid4() for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        childs = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parents = {ids.uuid4() for _ in range(5)}
    assert len(childs) == 5 and not childs & parents
