"""Prometheus' multi-process mode for ``serve`` (gunicorn's workers) and ``worker``.

Each process writes its samples to files of its own in the directory named by
``PROMETHEUS_MULTIPROC_DIR``; ``/metrics`` adds them up. The client decides between that and
in-memory samples when it is first imported, so this module imports it only inside functions:
:func:`prepare` runs in gunicorn's master before any worker exists.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["ENV", "child_exit", "prepare", "prepare_worker", "process_exit", "remove_private"]

ENV = "PROMETHEUS_MULTIPROC_DIR"
_PRIVATE_PREFIX = "b2bgateway-metrics-"


def prepare() -> tuple[Path, bool]:
    """The directory for ``serve``: ``$PROMETHEUS_MULTIPROC_DIR`` (created if missing) without
    the files of processes no longer running (a previous run's, whose counters restart), or a
    private temporary one (set in the environment the workers inherit). True: private."""
    named = os.environ.get(ENV)
    if not named:
        path = Path(tempfile.mkdtemp(prefix=_PRIVATE_PREFIX))
        os.environ[ENV] = str(path)
        return path, True
    path = Path(named)
    path.mkdir(parents=True, exist_ok=True)
    for file in path.glob("*.db"):
        pid = file.stem.rsplit("_", 1)[-1]
        if pid.isdigit() and not _running(int(pid)):
            file.unlink(missing_ok=True)
    return path, False


def prepare_worker() -> None:
    """For ``b2bgateway worker``: with ``$PROMETHEUS_MULTIPROC_DIR`` set, make sure it exists
    (its files then join the server's ``/metrics``); without it, nothing is shared."""
    named = os.environ.get(ENV)
    if named:
        Path(named).mkdir(parents=True, exist_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def process_exit(pid: int) -> None:
    """A process that wrote samples is gone: its live gauges no longer count (its counters and
    histograms stay, so totals never go down while the server runs)."""
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` hook (in the master)."""
    process_exit(worker.pid)


def remove_private(path: Path) -> None:
    """Remove a private directory made by :func:`prepare` when ``serve`` stops."""
    if path.name.startswith(_PRIVATE_PREFIX):
        shutil.rmtree(path, ignore_errors=True)
