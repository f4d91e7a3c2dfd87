"""What the shared statements need from a backend: a transaction, a query, a stream."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import fields
from typing import Any, Protocol, TypeVar

_T = TypeVar("_T")
Params = tuple[Any, ...] | dict[str, Any]


class Executor(Protocol):
    """A connection inside a transaction: `execute()` returns a cursor."""

    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, params: Any, /) -> Any: ...


def as_record(cls: type[_T], row: Any) -> _T | None:
    """A row (a mapping by column name) as the dataclass whose fields name its columns."""
    if row is None:
        return None
    return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


class SqlBase:
    host: str
    lease: float

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

    def one(self, cls: type[_T], sql: str, params: Params = ()) -> _T | None:
        rows = self.query(sql, params)
        return as_record(cls, rows[0] if rows else None)
