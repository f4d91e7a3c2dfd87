"""The SQLite ledger: the embedded default, one file beside the daemon.

WAL mode, so the CLI and other apps read while the daemon writes; a busy
timeout, so a short lock held by a reader never fails a write; named migrations
applied on open; an flock beside the file that refuses a second daemon. One
file serves one host: its rows take the daemon's current host name.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection
from pathlib import Path

from ossync.core import failpoints
from ossync.core.inotify import FolderChanges
from ossync.ledger.bell import EventWaiting, bell_for
from ossync.ledger.catalog import CatalogViews
from ossync.ledger.contract import DEFAULT_LEASE, Ledger, register_backend
from ossync.ledger.errors import LedgerCorrupt, LedgerError, LedgerMissing, LedgerUnavailable
from ossync.ledger.present import UrlSigner
from ossync.ledger.records import now_text
from ossync.ledger.sql.claims import SqlClaims, not_in
from ossync.ledger.sql.copies import SqlCopies
from ossync.ledger.sql.copy_reads import SqlCopyReads
from ossync.ledger.sql.copying import SqlCopy
from ossync.ledger.sql.direct import SqlDirect
from ossync.ledger.sql.multipart import SqlMultipart
from ossync.ledger.sql.outbox import SqlOutbox
from ossync.ledger.sql.reads import SqlReads
from ossync.ledger.sql.settling import SqlSettle
from ossync.ledger.sqlite.base import SqliteBase
from ossync.ledger.sqlite.migrations import MIGRATIONS
from ossync.ledger.waking import Waker

log = logging.getLogger("ossync.ledger.sqlite")
BUSY_TIMEOUT_MS = 10_000
WATCH_TICK = 1.0  # seconds between looks at the stop event while watching for events
WATCH_FALLBACK = 2.0  # seconds between looks at the last event id without inotify
WATCH_COALESCE = 0.02  # seconds of writes taken together before a look


class SqliteLedger(Waker, EventWaiting, SqlClaims, SqlSettle, SqlReads, SqlMultipart, SqlCopy,
                   SqlOutbox, SqlCopies, SqlCopyReads, SqlDirect, CatalogViews, SqliteBase,
                   Ledger):
    def __init__(self, conn: sqlite3.Connection, path: Path, lock_fd: int | None,
                 host: str) -> None:
        super().__init__(conn)
        self._init_waking()
        self.path = path
        self.location = str(path)
        self.bell = bell_for(self.location)
        self.host = host
        self.groups: tuple[str, ...] = ()  # one daemon per file: no folder groups
        self.signer: UrlSigner | None = None
        self.lease = DEFAULT_LEASE
        self._lock_fd = lock_fd

    @classmethod
    def open_path(cls, path: Path | str, *, readonly: bool = False, exclusive: bool = False,
                  host: str = "localhost") -> SqliteLedger:
        path = Path(path)
        try:
            exists = path.exists()
        except OSError as exc:  # a name too long, say
            raise _cannot_open(path, exc) from exc
        if readonly and not exists:
            raise LedgerMissing(f"ledger {path} does not exist (has the daemon run yet? "
                                "check the ledger: setting)")
        if exists and not path.is_file() and not path.is_dir():
            raise LedgerCorrupt(f"ledger {path} is not a regular file (a device, a FIFO?); "
                                "name a file for the ledger")
        try:
            lock_fd = _take_lock(path) if exclusive else None
        except OSError as exc:
            raise _cannot_open(path, exc) from exc
        conn: sqlite3.Connection | None = None
        try:
            conn = _connect(path, readonly)
            ledger = cls(conn, path, lock_fd, host)
            ledger._check_ours(readonly)  # before any write: another program's database,
            ledger._check_schema()  # or a newer ossync's ledger, stays as it is
            if not readonly:
                ledger._migrate()
            if exclusive:  # the daemon: its rows take its current name
                ledger._adopt_rows()
            else:  # a reader, `put`, `retry`: one host per file, whatever it is called
                recorded = ledger._recorded_host()
                ledger.host = host if recorded is None else recorded
        except (LedgerError, sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            if lock_fd is not None:
                os.close(lock_fd)
            raise _open_failure(path, exc) from exc
        return ledger

    def close(self) -> None:
        with self.lock:
            self.conn.close()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _adopt_rows(self) -> None:
        """Rows written under another host name (an older version, a renamed host) are
        this host's: a SQLite ledger has one daemon."""
        with self.transaction() as conn:
            conn.execute("UPDATE files SET host = ? WHERE host < ? OR host > ?",
                         (self.host,) * 3)
            conn.execute("UPDATE multipart_uploads SET host = ? WHERE host < ? OR host > ?",
                         (self.host,) * 3)
            conn.execute("UPDATE copies SET host = ? WHERE host < ? OR host > ?",
                         (self.host,) * 3)

    def _recorded_host(self) -> str | None:
        rows = self.query("SELECT host FROM files ORDER BY id DESC LIMIT 1")
        return str(rows[0]["host"]) if rows else None

    def reset_interrupted(self, keep: Collection[int] = (),
                          keep_copies: Collection[int] = ()) -> int:
        """Every row and copy left `uploading` was ours: there is one daemon per file."""
        if not keep and not keep_copies:
            with self.transaction() as conn:
                conn.execute("DELETE FROM content_claims")
        return self._reset(f"1 = 1{not_in(keep)}", tuple(keep), f"1 = 1{not_in(keep_copies)}",
                           tuple(keep_copies), bool(keep or keep_copies))

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """One daemon per file: no other host to hear. Waits for `stop`."""
        stop.wait()

    def watch_events(self, stop: threading.Event) -> None:
        """Until `stop`: ring the bell when another process records events. Each commit
        writes the -wal file: inotify on the ledger's folder says when, and the bell rings
        only if the last event id moved (and once when the watch begins, like PostgreSQL's
        after its LISTEN). Without inotify, a look every few seconds."""
        names = frozenset({self.path.name, f"{self.path.name}-wal"})
        try:
            changes: FolderChanges | None = FolderChanges(str(self.path.parent), names)
        except OSError as exc:
            log.warning("cannot watch %s for changes (%s); looking every %.0fs instead",
                        self.path.parent, exc, WATCH_FALLBACK)
            changes = None
        # Watching now: a commit from here on is heard. One written before the watch began
        # (while this thread started) was not: ring once, and whoever waits looks again.
        last = self.last_event_id()
        self.bell.ring()
        try:
            while not stop.is_set():
                failpoints.hit("events.watch", stop)
                if changes is None:
                    stop.wait(WATCH_FALLBACK)
                elif not changes.wait(WATCH_TICK):
                    continue
                elif stop.wait(WATCH_COALESCE):  # a commit is several writes: one look
                    return
                else:
                    changes.wait(0)  # (the writes meanwhile: read, and counted in this look)
                newest = self.last_event_id()
                if newest != last:
                    last = newest
                    self.bell.ring()
        finally:
            if changes is not None:
                changes.close()

    def data_version(self) -> int:
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

    def _check_ours(self, readonly: bool) -> None:
        """A database of another program is never written to; an empty file is a new
        ledger (but has nothing to read yet)."""
        tables = {str(r[0]) for r in self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")}
        if tables and "migrations" not in tables:
            listed = ", ".join(sorted(tables)[:5])
            raise LedgerCorrupt(f"{self.path} is not an ossync ledger (it holds another "
                                f"program's tables: {listed}); name another file in ledger:")
        if readonly and not tables:
            raise LedgerMissing(f"ledger {self.path} has no ossync tables yet (has the daemon "
                                "run yet? it creates them)")

    def _check_schema(self) -> None:
        version = self.query("PRAGMA user_version")[0][0]
        if version > len(MIGRATIONS):
            raise LedgerError(f"ledger {self.path} was written by a newer ossync "
                              f"(schema {version}, this one knows {len(MIGRATIONS)}); "
                              "upgrade ossync to use it, and never point an older one at it")


_DAMAGED = ("not a database", "malformed", "corrupt", "file is encrypted")


def _open_failure(path: Path, exc: BaseException) -> LedgerError:
    """One line naming what is wrong with the ledger file and what to do about it."""
    if isinstance(exc, LedgerError) and not isinstance(exc, LedgerUnavailable):
        return exc  # a newer schema, say: already in words
    text = str(exc)
    if isinstance(exc, OSError):
        return _cannot_open(path, exc)
    if any(word in text.lower() for word in _DAMAGED):
        return LedgerCorrupt(f"ledger {path}: {text} (if the file is damaged, move it "
                             "aside; the daemon rebuilds the queue by scanning)")
    if path.is_dir():
        return LedgerError(f"ledger {path} is a folder; name a file in it (ledger: "
                           f"{path / 'ledger.db'})")
    return LedgerError(f"cannot use the ledger {path}: {text} (check that its folder "
                       "exists and that this user may read and write the file and its "
                       "folder)")


def _cannot_open(path: Path, exc: OSError) -> LedgerError:
    for parent in path.parents:
        if parent.is_file():
            return LedgerError(f"cannot use the ledger {path}: {parent} is a file, not a "
                               "folder; choose another ledger:")
    where = exc.filename or path
    return LedgerError(f"cannot use the ledger {path}: {exc.strerror or exc} ({where}); "
                       "give this user write access to its folder, or choose another ledger:")


def _connect(path: Path, readonly: bool) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        _create_private(path)
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


def _create_private(path: Path) -> None:
    """A new ledger (and a new folder for it) readable by this user only, whatever the
    umask: it names every file and folder the daemon has seen. SQLite gives its -wal and
    -shm files the same mode as the database."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))


def _take_lock(path: Path) -> int:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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


def _is_sqlite_location(location: str) -> bool:
    """Anything that is not a URL is a file path (`sqlite:///path` too)."""
    return "://" not in location or location.startswith("sqlite://")


def _open(location: str, readonly: bool, exclusive: bool, host: str) -> Ledger:
    path = location.removeprefix("sqlite://") if location.startswith("sqlite://") else location
    return SqliteLedger.open_path(path, readonly=readonly, exclusive=exclusive, host=host)


register_backend(_is_sqlite_location, _open)
