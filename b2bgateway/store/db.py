"""Engines, sessions and migrations.

PostgreSQL is first class (row locks, partial unique indexes, ``FOR UPDATE SKIP LOCKED``). SQLite is
the embedded default for one machine, set up so concurrent writers do not fail: WAL (readers never
block the writer), ``busy_timeout`` (a writer waits for the lock instead of failing), and
``BEGIN IMMEDIATE`` for every write transaction (a deferred transaction that reads first and then
writes gets SQLITE_BUSY at once, whatever the timeout).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # not a POSIX system: processes queue in SQLite's busy handler instead
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MAYBE_UNAVAILABLE",
    "Store",
    "current_revision",
    "downgrade",
    "head_revision",
    "is_unavailable",
    "make_engine",
    "upgrade",
]

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
_WRITE = "b2bgateway_write"
SQLITE_BUSY_TIMEOUT_MS = 5000


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the project's SQLite set-up, or a pre-pinged PostgreSQL pool."""
    parsed = make_url(url)
    # Statement parameters never reach logs or tracebacks: they can hold response bodies with
    # client secrets and webhook bodies.
    kwargs.setdefault("hide_parameters", True)
    if parsed.get_backend_name() != "sqlite":
        # A gthread worker runs many request threads; connections are held only inside short
        # transactions (never across a processor call), so a modest pool serves them all: a
        # thread that finds none free waits for one (up to pool_timeout) instead of opening
        # more, because every process's connections share the server's max_connections.
        # Overflow connections are closed when returned, so under steady load they are opened
        # and closed again and again (a new PostgreSQL backend each time): keep them all pooled.
        kwargs.setdefault("pool_size", 20)
        kwargs.setdefault("max_overflow", 0)
        kwargs.setdefault("pool_timeout", 10)
        engine = create_engine(url, **kwargs)
        if not kwargs.get("pool_pre_ping"):
            _ping_when_idle(engine)
        return engine

    connect_args = kwargs.pop("connect_args", {})
    connect_args.setdefault("timeout", SQLITE_BUSY_TIMEOUT_MS / 1000)
    connect_args.setdefault("check_same_thread", False)
    engine = create_engine(url, connect_args=connect_args, **kwargs)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so "begin" below decides how to BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last checkpoint
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        write = connection.get_execution_options().get(_WRITE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


#: What the database raises when it *may* be unable to serve a transaction now (unreachable,
#: out of connections, restarting, SQLite's lock not granted in time, no pooled connection free
#: in time), but also for lasting faults: catch these, then ask :func:`is_unavailable`. When it
#: says yes, nothing of that transaction was committed, and trying again later is safe.
MAYBE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, PoolTimeout)


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "not now" (out of connections, restarting, unreachable,
    locked, a deadlock or serialization failure: retry later) rather than a lasting fault (a
    missing table, a read-only or corrupt database), which must not pass for a 503."""
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, OperationalError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):  # PostgreSQL: connection, resources, shutdown, concurrency
        # 08: connection; 40: serialization failure, deadlock; 53300: too many connections;
        # 57P: shutting down, restarting. Not 53100 (disk full) or 53200: they last.
        return state[:2] in ("08", "40") or state == "53300" or state.startswith("57P")
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):  # SQLite
        return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))
    # A driver error without a code: psycopg could not connect (or lost the server) at all.
    return "connect" in str(orig).lower() or "server closed" in str(orig).lower()


#: A pooled connection unused for longer than this is checked before it is handed out.
IDLE_PING_SECONDS = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it has been idle a while.

    ``pool_pre_ping`` costs a round trip on every checkout, four per checkout request; a
    connection returned milliseconds ago is not worth one. A connection that sat idle (when a
    database restart or a firewall may have cut it) is pinged, and a dead one is replaced before
    the request sees it: raising ``DisconnectionError`` makes the pool retry with a new connection.
    A connection that dies while busy fails that statement; SQLAlchemy then invalidates the pool.
    """

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _handed_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get("returned_at")
        if returned is None or time.monotonic() - returned < IDLE_PING_SECONDS:
            return  # new, or used a moment ago
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:
            raise DisconnectionError(f"idle connection is gone: {type(exc).__name__}") from exc


class _SQLiteWriter:
    """One writer at a time on an SQLite file: threads of this process queue on a lock, and
    processes (the serve workers, the worker) on an advisory ``flock`` of a file next to the
    database, taken the moment it is free. SQLite's own busy handler sleeps up to 100 ms at a
    time while another process writes. Re-entrant: a thread already writing may open another
    write (the lock is held once).

    The file lock only improves queueing: if it cannot be had within SQLite's busy timeout, or
    the file cannot be opened (permissions, a read-only or network file system), the write goes
    ahead and SQLite's own locking decides, as without it.
    """

    def __init__(self, lock_path: str | None) -> None:
        self._lock_path = lock_path if fcntl is not None else None
        self._reset()

    def _reset(self) -> None:
        self._pid = os.getpid()
        self._threads = threading.RLock()
        self._depth = 0  # guarded by _threads
        self._fd: int | None = None
        self._held = False

    def __enter__(self) -> None:
        if self._pid != os.getpid():
            # A forked child: the descriptor's lock is shared with the parent, and a lock a
            # parent's thread held is held by nobody here. Start afresh.
            self._reset()
        self._threads.acquire()
        if self._depth == 0:
            self._held = self._take_file_lock()
        self._depth += 1

    def __exit__(self, *exc: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._held:
                self._held = False
                assert fcntl is not None
                assert self._fd is not None
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()

    def _take_file_lock(self) -> bool:
        if self._lock_path is None:
            return False
        assert fcntl is not None
        try:
            if self._fd is None:
                # Read-only is enough to flock, so a lock file another user created (0644) works.
                self._fd = os.open(self._lock_path, os.O_RDONLY | os.O_CREAT, 0o644)
            deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
            pause = 0.0005
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return True
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        return False  # SQLite's busy handler decides, as without this lock
                    time.sleep(pause)
                    pause = min(pause * 2, 0.002)
        except OSError as exc:
            log.warning(
                "SQLite writer lock %s unavailable (%s): writers queue in SQLite instead",
                self._lock_path,
                exc,
            )
            self._lock_path = None
            return False


class Store:
    """The database: one engine, a session factory for reads and one for writes.

    Use ``with store.write() as session:`` for anything that writes (committed on success, rolled
    back on error) and ``with store.read() as session:`` for reads.
    """

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.dialect = self.engine.dialect.name
        # SQLite has one writer at a time. Writers queue here, in order, instead of in SQLite's
        # busy handler, which sleeps in coarse steps and makes p99 explode.
        self._writer: AbstractContextManager[Any] = nullcontext()
        if self.dialect == "sqlite":
            database = make_url(url).database
            on_disk = bool(database) and database != ":memory:"
            self._writer = _SQLiteWriter(f"{database}.writer-lock" if on_disk else None)
        write_engine = self.engine.execution_options(**{_WRITE: True})
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._writer, self._write.begin() as session:
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session:
            yield session

    def ping(self) -> None:
        """Raise if the database cannot answer a trivial query (for /healthz)."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


def _alembic_config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(files("b2bgateway.store") / "migrations"))
    config.attributes["connection"] = connection
    return config


def upgrade(store: Store, revision: str = "head") -> None:
    """Apply the Alembic migrations up to ``revision`` (``b2bgateway db upgrade``)."""
    from alembic import command

    _migrate(store, lambda config: command.upgrade(config, revision))


def downgrade(store: Store, revision: str) -> None:
    """Undo the Alembic migrations down to ``revision``."""
    from alembic import command

    _migrate(store, lambda config: command.downgrade(config, revision))


def _migrate(store: Store, run: Callable[[Config], None]) -> None:
    """Run migrations in one transaction. On SQLite, with foreign keys off while they run: a
    migration that rebuilds a table (SQLite's only way to change a constraint) drops the old one,
    and with foreign keys on that drop would delete, through ``ON DELETE CASCADE``, every row that
    refers to it (a payment's allocations). The keys are checked before the commit instead."""
    sqlite = store.dialect == "sqlite"
    with store.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert raw is not None
        if sqlite:  # outside any transaction: SQLite ignores the pragma inside one
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                run(_alembic_config(connection))
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration broke foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(store: Store) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@functools.cache
def head_revision() -> str | None:
    """The newest migration this code ships (read once: the files change only with the code, and
    reading them costs ~12 ms of CPU, which every ``/healthz`` paid)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
