"""The SQLite ledger: the durable work queue and the record of every upload.

WAL mode, so the CLI and other apps read while the daemon writes; a busy
timeout, so a short lock held by a reader never fails a write; named migrations
applied on open. One connection per Ledger, guarded by a lock, shared by the
daemon's threads (every statement is short; hashing and HTTP happen outside).
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from ossync.core.errors import OssyncError
from ossync.ledger.reads import LedgerQueries
from ossync.ledger.sqlite.migrations import MIGRATIONS

BUSY_TIMEOUT_MS = 10_000
_T = TypeVar("_T")


class LedgerError(OssyncError):
    """The ledger cannot be opened or used (missing, corrupt, locked, disk full)."""


class LedgerMissing(LedgerError):
    """There is no ledger file at that path."""


class LedgerCorrupt(LedgerError):
    """The file is not a SQLite database, or not one of ours."""


@dataclass(frozen=True)
class Upload:
    """One object we stored (or recognised as ours) in a bucket."""

    id: int
    bucket: str
    key: str
    url: str
    sha256: str
    size: int
    crc64: str | None
    etag: str | None
    content_type: str | None
    path: str
    folder: str
    uploaded_at: str
    request_id: str | None


@dataclass(frozen=True)
class FileRow:
    """One local path as the queue knows it."""

    id: int
    path: str
    folder: str
    size: int
    mtime_ns: int
    state: str
    attempts: int
    next_attempt: float
    last_error: str | None
    sha256: str | None
    pending_key: str | None
    upload_id: int | None
    seen_at: str
    updated_at: str


def now_text() -> str:
    """RFC 3339 UTC with milliseconds: sorts as text, reads as time."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _row(cls: type[_T], row: sqlite3.Row | None) -> _T | None:
    if row is None:
        return None
    return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


class Ledger(LedgerQueries):
    def __init__(self, conn: sqlite3.Connection, path: Path, lock_fd: int | None) -> None:
        self.conn = conn
        self.path = path
        self._lock_fd = lock_fd
        self.lock = threading.RLock()

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False,
             exclusive: bool = False) -> Ledger:
        """Open (creating and migrating unless read-only).

        `exclusive` takes the daemon lock: a second daemon on the same ledger is refused.
        """
        path = Path(path)
        if readonly and not path.exists():
            raise LedgerMissing(f"ledger {path} does not exist (has the daemon run yet? "
                              "check the ledger: setting)")
        lock_fd = _take_lock(path) if exclusive else None
        try:
            conn = _connect(path, readonly)
            ledger = cls(conn, path, lock_fd)
            if not readonly:
                ledger._migrate()
            else:
                ledger._check_schema()
        except sqlite3.DatabaseError as exc:
            if lock_fd is not None:
                os.close(lock_fd)
            raise LedgerCorrupt(f"ledger {path}: {exc} (if the file is damaged, move it "
                              "aside; the daemon rebuilds the queue by scanning)") from exc
        return ledger

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE … COMMIT under the lock; rolled back on any exception."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def stream(self, sql: str, params: tuple[Any, ...] = (), batch: int = 1000
               ) -> Iterator[sqlite3.Row]:
        """Rows in batches, so an export of millions never sits in memory at once."""
        with self.lock:
            cursor = self.conn.execute(sql, params)
        while True:
            with self.lock:
                rows = cursor.fetchmany(batch)
            if not rows:
                return
            yield from rows

    def data_version(self) -> int:
        """Changes when another connection commits (the CLI's `retry`, say)."""
        return int(self.query("PRAGMA data_version")[0][0])

    def _migrate(self) -> None:
        with self.transaction() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS migrations "
                         "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r["name"] for r in self.query("SELECT name FROM migrations")}
        for number, (name, sql) in enumerate(MIGRATIONS, 1):
            if name in done:
                continue
            with self.transaction() as conn:
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, now_text()))
                conn.execute(f"PRAGMA user_version = {number}")

    def _check_schema(self) -> None:
        version = self.query("PRAGMA user_version")[0][0]
        if version > len(MIGRATIONS):
            raise LedgerError(f"ledger {self.path} was written by a newer ossync "
                              f"(schema {version}); upgrade ossync to read it")

    # --- lookups -------------------------------------------------------------

    def file_by_path(self, path: str) -> FileRow | None:
        rows = self.query("SELECT * FROM files WHERE path = ?", (path,))
        return _row(FileRow, rows[0] if rows else None)

    def file_by_id(self, file_id: int) -> FileRow | None:
        rows = self.query("SELECT * FROM files WHERE id = ?", (file_id,))
        return _row(FileRow, rows[0] if rows else None)

    def upload_by_id(self, upload_id: int) -> Upload | None:
        rows = self.query("SELECT * FROM uploads WHERE id = ?", (upload_id,))
        return _row(Upload, rows[0] if rows else None)

    def upload_by_sha256(self, sha256: str, bucket: str) -> Upload | None:
        rows = self.query("SELECT * FROM uploads WHERE sha256 = ? AND bucket = ? "
                          "ORDER BY id LIMIT 1", (sha256, bucket))
        return _row(Upload, rows[0] if rows else None)

    def upload_by_key(self, bucket: str, key: str) -> Upload | None:
        rows = self.query("SELECT * FROM uploads WHERE bucket = ? AND key = ?", (bucket, key))
        return _row(Upload, rows[0] if rows else None)

    def upload_for_path(self, path: str) -> Upload | None:
        """The object holding this path's current content, if it is uploaded."""
        rows = self.query("SELECT u.* FROM files f JOIN uploads u ON u.id = f.upload_id "
                          "WHERE f.path = ? AND f.state = 'uploaded'", (path,))
        return _row(Upload, rows[0] if rows else None)

    def retry_failed(self, paths: list[str] | None = None) -> int:
        """Queue failed paths (all of them when `paths` is None) for another try now."""
        sql = ("UPDATE files SET state = 'pending', attempts = 0, next_attempt = 0, "
               "updated_at = ? WHERE state = 'failed'")
        with self.transaction() as conn:
            if paths is None:
                return conn.execute(sql, (now_text(),)).rowcount
            return sum(conn.execute(sql + " AND path = ?", (now_text(), p)).rowcount
                       for p in paths)

    def counts(self) -> dict[str, int]:
        rows = self.query("SELECT state, COUNT(*) AS n FROM files GROUP BY state")
        return {r["state"]: r["n"] for r in rows}


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if not readonly:
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL in WAL mode is crash-safe for the process; after a power loss the
        # last commits may roll back, and the re-upload meets its own object (409).
        conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # fails fast if corrupt
    return conn


def _take_lock(path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise LedgerError(f"another ossync daemon is already using the ledger {path} "
                          f"(lock {lock_path}); stop it first, or give this one its own "
                          "ledger:") from None
    return fd
