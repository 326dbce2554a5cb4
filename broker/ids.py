"""Random identifiers for the hot paths: token ids (``jti``, ``origin_jti``, ``event_id``)
and request ids, as UUID version 4 strings, from the kernel's random generator read in
blocks.

``uuid.uuid4()`` reads 16 bytes per call, each read a system call during which the calling
thread lets go of the GIL and may then wait for it behind the process's other threads; a
refresh makes three of these ids (its two tokens' and its request's), a sign-in five. Here
one read serves :data:`BLOCK` // 16 of them. The bytes are as random as ``os.urandom``'s
(they are its); each thread has its own block, and a forked process starts afresh, so that
no two ids come from the same bytes.

    ids.uuid4()   # 'c0a5d3ba-5f0e-4b8e-9d3f-0b7d6f1e2a4c'
    ids.hex32()   # the same 122 random bits, as 32 hex digits (uuid4().hex)
"""
from __future__ import annotations

import os
import threading

#: Bytes read at once (256 ids).
BLOCK = 4096

_local = threading.local()
_generation = 0


def _forked() -> None:
    global _generation
    _generation += 1


os.register_at_fork(after_in_child=_forked)


def _random16() -> bytearray:
    """16 bytes never handed out before in this process, with the version (4) and variant
    (RFC 9562) bits of a UUID set."""
    state = _local.__dict__
    block, used = state.get("block"), state.get("used", BLOCK)
    if block is None or used >= BLOCK or state.get("generation") != _generation:
        block, used = os.urandom(BLOCK), 0
        state["block"], state["generation"] = block, _generation
    state["used"] = used + 16
    chunk = bytearray(block[used:used + 16])
    chunk[6] = chunk[6] & 0x0F | 0x40
    chunk[8] = chunk[8] & 0x3F | 0x80
    return chunk


def hex32() -> str:
    """A random UUID (version 4) as 32 hex digits."""
    return _random16().hex()


def uuid4() -> str:
    """A random UUID (version 4) in its usual form, 8-4-4-4-12 hex digits."""
    h = _random16().hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
