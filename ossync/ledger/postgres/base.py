"""One PostgreSQL connection shared by the daemon's threads, re-made after an outage.

The shared statements are written with SQLite's `?` and `:name` placeholders;
`translate` turns them into psycopg's. A lost connection raises
`LedgerUnavailable` once and is opened again on the next use, so the daemon
waits and carries on when the server is back (a restart, a failover).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any

from ossync.ledger.errors import LedgerError
from ossync.ledger.postgres.connect import connect_args, explain, psycopg_module
from ossync.ledger.sql.base import Params, SqlBase

_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)\b")


@lru_cache(maxsize=256)
def translate(sql: str) -> str:
    """`?` → `%s`, `:name` → `%(name)s` (the shared SQL has no literal `?`, `:` or `%`)."""
    return _NAMED.sub(r"%(\1)s", sql.replace("?", "%s"))


class _Executor:
    """A connection inside a transaction, speaking the shared statements' dialect."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Any = (), /) -> Any:
        return self.conn.execute(translate(sql), params or None)

    def executemany(self, sql: str, params: Any, /) -> Any:
        """Many rows in one pipeline (psycopg batches the round trips)."""
        with self.conn.cursor() as cursor:
            cursor.executemany(translate(sql), params)
            return cursor


class PgBase(SqlBase):
    def __init__(self, url: str) -> None:
        self.url = url
        self.psycopg = psycopg_module()
        self.lock = threading.RLock()
        self._conn: Any = None
        self.clock_offset = 0.0  # server clock − ours: leases use the server's time

    def connect(self) -> Any:
        """A fresh connection (autocommit; transactions are explicit)."""
        from psycopg.rows import dict_row

        try:
            conn = self.psycopg.connect(autocommit=True, row_factory=dict_row,
                                        **connect_args(self.url))
        except self.psycopg.Error as exc:
            raise explain(self.url, exc) from exc
        return conn

    def _connection(self) -> Any:
        if self._conn is None or self._conn.closed:
            self._conn = self.connect()
            self.on_connect(self._conn)
        return self._conn

    def on_connect(self, conn: Any) -> None:
        """Session set-up after each (re)connection: the clock offset."""
        before = time.time()
        server = conn.execute("SELECT EXTRACT(EPOCH FROM clock_timestamp()) AS t").fetchone()
        self.clock_offset = float(server["t"]) - (before + time.time()) / 2

    def clock(self) -> float:
        return time.time() + self.clock_offset

    def _failed(self, exc: Exception) -> LedgerError:
        if isinstance(exc, self.psycopg.OperationalError) or (
                self._conn is not None and self._conn.broken):
            self._drop()
        return explain(self.url, exc)

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(self.psycopg.Error):
                self._conn.close()
        self._conn = None

    @contextmanager
    def transaction(self) -> Iterator[_Executor]:
        with self.lock:
            committed = False
            try:
                conn = self._connection()
                with conn.transaction():
                    yield _Executor(conn)
                committed = True
            except self.psycopg.Error as exc:
                raise self._failed(exc) from exc
            finally:
                self._ended(committed)

    def query(self, sql: str, params: Params = ()) -> list[Any]:
        with self.lock:
            try:
                return list(self._connection().execute(translate(sql), params or None)
                            .fetchall())
            except self.psycopg.Error as exc:
                raise self._failed(exc) from exc

    def stream(self, sql: str, params: tuple[Any, ...] = (), batch: int = 1000
               ) -> Iterator[Any]:
        """A server-side cursor on a connection of its own: millions of rows, little memory,
        and the daemon's connection stays free."""
        try:
            with self.connect() as conn, conn.transaction(), conn.cursor(
                    name="ossync_stream") as cursor:
                cursor.itersize = batch
                cursor.execute(translate(sql), params or None)
                yield from cursor
        except self.psycopg.Error as exc:
            raise explain(self.url, exc) from exc

    def close_connection(self) -> None:
        with self.lock:
            self._drop()
