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
from typing import Any

from ossync.ledger.errors import LedgerUnavailable
from ossync.ledger.sql.base import Params, SqlBase


class SqliteBase(SqlBase):
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
            self._ended(committed=True)

    def _rollback(self) -> None:
        self._ended(committed=False)
        with suppress(sqlite3.Error):  # SQLite may have rolled back already (disk full)
            self.conn.execute("ROLLBACK")

    def query(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        with self.lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerUnavailable(str(exc)) from exc

    def stream(self, sql: str, params: tuple[Any, ...] = (), batch: int = 1000
               ) -> Iterator[sqlite3.Row]:
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
