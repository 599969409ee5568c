"""What the benchmarks share: the machine's description and a clean PostgreSQL schema."""

from __future__ import annotations

import platform
import subprocess
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

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
    }


def fresh_schema(url: str) -> None:
    """Drop and recreate the bench schema (PostgreSQL only; SQLite runs use a new file)."""
    if not url.startswith("postgresql"):
        return
    admin = Store(url)
    with admin.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS b2bgateway_bench CASCADE"))
        conn.execute(text("CREATE SCHEMA b2bgateway_bench"))
    admin.dispose()
