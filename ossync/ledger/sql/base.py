"""What the shared statements need from a backend: a transaction, a query, a stream."""

from __future__ import annotations

import time
from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any, Protocol, TypeVar

from ossync.core.textforms import os_path
from ossync.ledger.bell import Bell

_T = TypeVar("_T")
# Columns that hold a local path: stored in the ledger form (valid UTF-8), read back in
# the OS form, so a name that is not UTF-8 round-trips (ossync.core.textforms).
PATH_COLUMNS = frozenset({"path", "uploaded_from"})
Params = tuple[Any, ...] | dict[str, Any]


class Executor(Protocol):
    """A connection inside a transaction: `execute()` returns a cursor."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Any, /) -> Any: ...


def as_record(cls: type[_T], row: Any) -> _T | None:
    """A row (a mapping by column name) as the dataclass whose fields name its columns."""
    if row is None:
        return None
    values = {f.name: row[f.name] for f in fields(cls)}  # type: ignore[arg-type]
    for name in PATH_COLUMNS & values.keys():
        if values[name] is not None:
            values[name] = os_path(values[name])
    return cls(**values)


class SqlBase:
    host: str
    lease: float
    bell: Bell  # rung after each commit that recorded an event (ossync.ledger.bell)
    _events_written = False  # this transaction recorded one (set under the lock)

    def clock(self) -> float:
        """The time leases are measured in (PostgreSQL: the server's, shared by all hosts,
        `PgBase.clock`, which comes before this one in the backend's bases)."""
        return time.time()

    @abstractmethod
    def transaction(self) -> AbstractContextManager[Executor]:
        """BEGIN … COMMIT, rolled back on any exception; driver errors → LedgerUnavailable."""

    @abstractmethod
    def query(self, sql: str, params: Params = ()) -> list[Any]:
        """All rows of one statement, as mappings by column name."""

    @abstractmethod
    def stream(self, sql: str, params: tuple[Any, ...] = (), batch: int = 1000
               ) -> Iterator[Any]:
        """Rows in batches, so an export of millions never sits in memory at once."""

    def _ended(self, committed: bool) -> None:
        """After each transaction (the backend holds its lock): ring the bell when one
        that recorded events committed — after the commit, so a woken reader sees them."""
        if self._events_written:
            self._events_written = False
            if committed:
                self.bell.ring()

    def _work_added(self, conn: Executor, groups: set[str]) -> None:
        """Rows of these folder groups became pending: backends shared by several hosts
        tell the other hosts of each group (PostgreSQL: NOTIFY), at commit."""

    def one(self, cls: type[_T], sql: str, params: Params = ()) -> _T | None:
        rows = self.query(sql, params)
        return as_record(cls, rows[0] if rows else None)
