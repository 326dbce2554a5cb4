"""A WSGI app for tests/test_polling.py: answers with its process, sleeps, or echoes a body."""
from __future__ import annotations

import os
import time
from urllib.parse import parse_qs


def app(environ, start_response):  # type: ignore[no-untyped-def]
    path = environ["PATH_INFO"]
    if path == "/sleep":
        time.sleep(float(parse_qs(environ["QUERY_STRING"])["seconds"][0]))
    if path == "/echo":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    else:
        body = f"{path} {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
