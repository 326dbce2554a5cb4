"""gunicorn's side of observability, used by ``broker serve --workers N`` and by
deploy/gunicorn.conf.py alike.

Metrics: every worker writes its samples to files in ``PROMETHEUS_MULTIPROC_DIR``, and a
scrape adds them up (prometheus_client's multiprocess mode). The master prepares that
folder before the first worker forks: the operator's (emptied: samples of a previous run
would be added to this one's), or a fresh temporary one, removed when the master exits.
When a worker exits, its live gauges are dropped; its counters stay in the sums.

Logs: with JSON logs, gunicorn's own lines (master and workers) are JSON too.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

from .logs import JsonFormatter

ENV = "PROMETHEUS_MULTIPROC_DIR"
_created: list[str] = []


def prepare_metrics_dir() -> str:
    """The folder the workers write metrics to, empty; sets ``PROMETHEUS_MULTIPROC_DIR``."""
    given = os.environ.get(ENV)
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="cognate-metrics-"))
        _created.append(str(path))
        os.environ[ENV] = str(path)
    return str(path)


def remove_metrics_dir() -> None:
    """Remove the temporary folder :func:`prepare_metrics_dir` made (not an operator's)."""
    while _created:
        shutil.rmtree(_created.pop(), ignore_errors=True)


# -- gunicorn server hooks (same names as gunicorn's settings) --------------------------

def on_starting(server: Any) -> None:
    prepare_metrics_dir()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess  # only now: PROMETHEUS_MULTIPROC_DIR is set

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    remove_metrics_dir()


HOOKS = {"on_starting": on_starting, "child_exit": child_exit, "on_exit": on_exit}


class JsonLogger(Logger):
    """gunicorn's logger writing JSON lines (``logger_class`` when logs are JSON)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())


JSON_LOGGER = f"{JsonLogger.__module__}.{JsonLogger.__name__}"
