"""What the benchmarks share: the machine's description, a clean PostgreSQL schema, running on
SQLite then PostgreSQL, and the CPU a server and the whole machine spent during a load."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from b2bgateway.store import Store

POSTGRES = (
    "postgresql+psycopg://postgres@127.0.0.1:5432/test?options=-csearch_path%3Db2bgateway_bench"
)


def machine() -> dict[str, Any]:
    def out(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
        except OSError:
            return ""

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu": out("sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
        "cores": out("nproc"),
        "commit": out("git", "rev-parse", "--short", "HEAD"),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        # 1, 5 and 15 minutes as `uptime` shows it: on a shared machine, how busy it was
        "load_average": " ".join(f"{n:.2f}" for n in os.getloadavg()),
    }


def with_schema(url: str, schema: str) -> str:
    """``url`` with its ``search_path`` set to ``schema`` (a bench of its own, so two benchmarks
    running at once do not drop each other's tables)."""
    return url.replace("search_path%3Db2bgateway_bench", f"search_path%3D{schema}")


def schema_of(url: str) -> str:
    """The schema named by the URL's ``-csearch_path=`` option, ``b2bgateway_bench`` if none."""
    options = str(make_url(url).query.get("options", ""))
    for option in options.split():
        name, sep, value = option.removeprefix("-c").partition("=")
        if sep and name == "search_path" and value.isidentifier():
            return value
    return "b2bgateway_bench"


def fresh_schema(url: str) -> None:
    """Drop and recreate the URL's bench schema (PostgreSQL only; SQLite runs use a new file)."""
    if not url.startswith("postgresql"):
        return
    schema = schema_of(url)
    admin = Store(url)
    with admin.engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()


def reachable(url: str) -> str | None:
    """None if PostgreSQL answers, else why not."""
    store = Store(url, connect_args={"connect_timeout": 3})
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return None
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
    finally:
        store.dispose()


def on_both_databases(run: Callable[[str], dict[str, Any]], postgres: str) -> list[dict[str, Any]]:
    """``run`` on a new SQLite file, then on PostgreSQL unless ``postgres`` is empty or does not
    answer (said on stderr: the SQLite figures stand). A failure once it answers is not hidden."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run(f"sqlite:///{tmp}/bench.db")]
    why = reachable(postgres) if postgres else "no --postgres URL"
    if why is None:
        runs.append(run(postgres))
    else:
        print(f"PostgreSQL skipped: {why}", file=sys.stderr)
    return runs


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children (gunicorn master + workers)."""
    pids = [pid]
    with contextlib.suppress(OSError):
        pids += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    ticks = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[int, int]:
    """(busy, total) ticks of the whole machine so far, from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4], sum(fields)
