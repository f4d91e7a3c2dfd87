"""One SQLite connection shared by the daemon's threads, behind a lock.

Every statement is short (hashing and HTTP happen outside), so one connection
serves all threads. Driver errors leave here as `LedgerUnavailable`, so the
daemon never needs to know it is talking to SQLite.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import fields
from typing import Any, TypeVar

from ossync.ledger.errors import LedgerUnavailable

_T = TypeVar("_T")
Params = tuple[Any, ...] | dict[str, Any]


def as_record(cls: type[_T], row: sqlite3.Row | None) -> _T | None:
    """A row as the dataclass whose fields name its columns."""
    if row is None:
        return None
    return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


class SqliteBase:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.lock = threading.RLock()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT under the lock; rolled back on any exception."""
        with self.lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerUnavailable(str(exc)) from exc
            try:
                yield self.conn
            except sqlite3.Error as exc:
                self._rollback()
                raise LedgerUnavailable(str(exc)) from exc
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise LedgerUnavailable(str(exc)) from exc

    def _rollback(self) -> None:
        with suppress(sqlite3.Error):  # SQLite may have rolled back already (disk full)
            self.conn.execute("ROLLBACK")

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self.lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerUnavailable(str(exc)) from exc

    def one(self, cls: type[_T], sql: str, params: Params = ()) -> _T | None:
        rows = self.query(sql, params)
        return as_record(cls, rows[0] if rows else None)

    def stream(self, sql: str, params: tuple[Any, ...] = (), batch: int = 1000
               ) -> Iterator[sqlite3.Row]:
        """Rows in batches, so an export of millions never sits in memory at once."""
        try:
            with self.lock:
                cursor = self.conn.execute(sql, params)
            while True:
                with self.lock:
                    rows = cursor.fetchmany(batch)
                if not rows:
                    return
                yield from rows
        except sqlite3.Error as exc:
            raise LedgerUnavailable(str(exc)) from exc
