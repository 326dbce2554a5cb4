"""Log lines as JSON objects (``BROKER_LOG_FORMAT=json``, the default in production) or as
text. A JSON line holds ``time``, ``level``, ``logger``, ``message``, ``pid`` and, inside a
request, ``request_id``; access lines add ``method``, ``path``, ``status``; audit lines nest
their event under ``audit``:

    {"time": "2025-01-02T03:04:05.678+00:00", "level": "INFO", "logger": "broker.access",
     "message": "POST /local_Ab12Cd34E/oauth2/token 200", "pid": 41, "request_id": "9f1c...",
     "method": "POST", "path": "/local_Ab12Cd34E/oauth2/token", "status": 200, ...}
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

from ..config import Settings
from .middleware import request_id

#: Keys of a JSON line that extra fields never replace.
CORE = ("time", "level", "logger", "message", "pid", "request_id")


class Structured:
    """A log message that is data: text logs print it as one JSON object (the audit log's
    historic lines), JSON logs nest it under ``key`` and say ``summary`` as the message."""

    def __init__(self, key: str, summary: str, data: dict[str, Any]) -> None:
        self.key, self.summary, self.data = key, summary, data

    def __str__(self) -> str:
        return json.dumps(self.data, default=str, sort_keys=True)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines in messages are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        msg = record.msg
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name,
            "message": msg.summary if isinstance(msg, Structured) else record.getMessage(),
            "pid": record.process,
        }
        rid = getattr(record, "request_id", None) or request_id()
        if rid:
            line["request_id"] = rid
        if isinstance(msg, Structured):
            line[msg.key] = msg.data
        for key, value in (getattr(record, "fields", None) or {}).items():
            line.setdefault(key, value)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(settings: Settings) -> None:
    """Give the process's log lines the format the settings ask for.

    ``broker serve`` has set up a stderr handler on the root logger: JSON logs swap its
    formatter. A WSGI server that set up nothing (``gunicorn -c deploy/gunicorn.conf.py``)
    gets one, at INFO, so that audit lines are not lost. Other handlers (a test runner's,
    an embedding application's) are left alone.
    """
    root = logging.getLogger()
    formatter = JsonFormatter() if settings.json_logs else logging.Formatter(TEXT_FORMAT)
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(formatter)
        root.addHandler(handler)
        if root.level == logging.NOTSET or root.level > logging.INFO:
            root.setLevel(logging.INFO)
    elif settings.json_logs:
        for handler in root.handlers:
            if type(handler) is logging.StreamHandler:  # noqa: E721 - not subclasses (test capture handlers)
                handler.setFormatter(formatter)
