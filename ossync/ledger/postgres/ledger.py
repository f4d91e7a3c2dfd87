"""The PostgreSQL ledger: many daemons (hosts) on one database.

Claims take rows with `FOR UPDATE SKIP LOCKED`, so two workers never hold one
row; a claim is a lease renewed by its host, and a row of a folder group whose
lease ran out may be taken by another host of that group. An advisory lock per
host name refuses a second daemon with the same name. Migrations run under a
transaction-level advisory lock, so hosts starting together migrate once.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from typing import Any

from ossync.core import failpoints
from ossync.ledger.bell import EventWaiting, bell_for
from ossync.ledger.catalog import CatalogViews
from ossync.ledger.contract import DEFAULT_LEASE, Ledger, register_backend
from ossync.ledger.errors import LedgerError
from ossync.ledger.postgres.base import PgBase
from ossync.ledger.postgres.connect import display_url
from ossync.ledger.postgres.migrations import MIGRATIONS
from ossync.ledger.present import UrlSigner
from ossync.ledger.records import CopyRow, FileRow, now_text
from ossync.ledger.sql.base import Executor, as_record
from ossync.ledger.sql.claims import SqlClaims
from ossync.ledger.sql.copies import SqlCopies
from ossync.ledger.sql.copy_reads import SqlCopyReads
from ossync.ledger.sql.copying import SqlCopy
from ossync.ledger.sql.direct import SqlDirect
from ossync.ledger.sql.multipart import SqlMultipart
from ossync.ledger.sql.outbox import SqlOutbox
from ossync.ledger.sql.reads import SqlReads
from ossync.ledger.sql.settling import SqlSettle
from ossync.ledger.waking import Waker

log = logging.getLogger("ossync.ledger.postgres")
MIGRATION_LOCK = 0x05_5C_00_01  # pg_advisory_xact_lock key while migrating
_CLAIM = """
UPDATE files SET state = 'uploading', claimed_by = %(me)s, lease_until = %(lease)s,
       updated_at = %(stamp)s
WHERE id = (SELECT id FROM files WHERE {where} ORDER BY {order} LIMIT 1
            FOR UPDATE SKIP LOCKED)
RETURNING *
"""
_CLAIM_WHERE = (
    # this host's own rows first, then rows of its folder groups, then the group rows
    # whose claim by another host ran out (that host died or was cut off)
    ("host = %(me)s AND state = 'pending' AND next_attempt <= %(now)s", "next_attempt"),
    ("grp = ANY(%(groups)s) AND state = 'pending' AND next_attempt <= %(now)s",
     "next_attempt"),
    ("grp = ANY(%(groups)s) AND state = 'uploading' AND lease_until < %(clock)s "
     "AND claimed_by <> %(me)s", "lease_until"),
)


_CLAIM_COPY = """
UPDATE copies SET state = 'uploading', claimed_by = %(me)s, lease_until = %(lease)s,
       updated_at = %(stamp)s
WHERE id = (SELECT id FROM copies WHERE destination = %(dest)s AND {where} ORDER BY {order}
            LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING *
"""
_NEXT_COPY_DUE = """
SELECT LEAST(
    (SELECT MIN(next_attempt) FROM copies WHERE destination = :dest AND host = :me
     AND state = 'pending'),
    (SELECT MIN(next_attempt) FROM copies WHERE destination = :dest AND grp = ANY(:groups)
     AND state = 'pending'),
    (SELECT MIN(lease_until) FROM copies WHERE destination = :dest AND grp = ANY(:groups)
     AND state = 'uploading' AND claimed_by <> :me) - :offset) AS due
"""


# The earliest moment a claim could find a row: this host's pending rows, its groups'
# pending rows, and the end of another host's lease on a group row (server time, so
# shifted to ours).
_NEXT_DUE = """
SELECT LEAST(
    (SELECT MIN(next_attempt) FROM files WHERE host = :me AND state = 'pending'),
    (SELECT MIN(next_attempt) FROM files WHERE grp = ANY(:groups) AND state = 'pending'),
    (SELECT MIN(lease_until) FROM files WHERE grp = ANY(:groups) AND state = 'uploading'
     AND claimed_by <> :me) - :offset) AS due
"""
WORK_CHANNEL = "ossync_work"  # NOTIFY payload: "<host>\t<group>"
EVENTS_CHANNEL = "ossync_events"  # NOTIFY payload: the event's id
EVENTS_LOCK = 0x05_5C_00_02  # pg_advisory_xact_lock key while recording events
LISTEN_POLL = 1.0  # seconds between looks at the stop event while listening
LISTEN_RETRY_FIRST, LISTEN_RETRY_MAX = 1.0, 30.0


class PostgresLedger(Waker, EventWaiting, SqlClaims, SqlSettle, SqlReads, SqlMultipart,
                     SqlCopy, SqlOutbox, SqlCopies, SqlCopyReads, SqlDirect, CatalogViews,
                     PgBase, Ledger):
    def __init__(self, url: str, host: str, readonly: bool, exclusive: bool) -> None:
        super().__init__(url)
        self._init_waking()
        self.location = display_url(url)
        self.bell = bell_for(self.location)
        self.host = host
        self.groups: tuple[str, ...] = ()
        self.signer: UrlSigner | None = None
        self.lease = DEFAULT_LEASE
        self.readonly = readonly
        self.exclusive = exclusive

    @classmethod
    def open_url(cls, url: str, *, readonly: bool = False, exclusive: bool = False,
                 host: str = "localhost") -> PostgresLedger:
        ledger = cls(url, host, readonly, exclusive)
        with ledger.lock:
            conn = ledger._connection()  # connects, takes the host lock, checks the schema
            if not readonly:
                ledger._migrate(conn)
        return ledger

    def on_connect(self, conn: Any) -> None:
        super().on_connect(conn)
        if self.readonly:  # the server refuses writes: read-only means read-only
            conn.execute("SET default_transaction_read_only = on")
        if self.exclusive:
            key = zlib.crc32(f"ossync host {self.host}".encode())
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (key,)).fetchone()
            if not got["ok"]:
                conn.close()
                raise LedgerError(f"another ossync daemon with host name {self.host!r} is "
                                  f"already using the ledger {self.location}; stop it, or "
                                  "give this one its own host:")
        self._check_schema(conn)

    def close(self) -> None:
        self.close_connection()

    def data_version(self) -> int:
        return int(self.query("SELECT version FROM ledger_changes WHERE id = 1")[0]["version"])

    def _check_schema(self, conn: Any) -> None:
        exists = conn.execute("SELECT to_regclass('migrations') IS NOT NULL AS ok").fetchone()
        if not exists["ok"]:
            if self.readonly:
                raise LedgerError(f"ledger {self.location} has no ossync tables yet (has a "
                                  "daemon run against it?)")
            return
        count = conn.execute("SELECT COUNT(*) AS n FROM migrations").fetchone()["n"]
        if count > len(MIGRATIONS):
            raise LedgerError(f"ledger {self.location} was written by a newer ossync "
                              f"(schema {count}); upgrade ossync to use it")

    def _migrate(self, conn: Any) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute("CREATE TABLE IF NOT EXISTS migrations "
                         "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
            done = {r["name"] for r in conn.execute("SELECT name FROM migrations")}
            for name, sql in MIGRATIONS:
                if name not in done:
                    conn.execute(sql)
                    conn.execute("INSERT INTO migrations VALUES (%s, %s)", (name, now_text()))

    # --- what PostgreSQL does differently ------------------------------------------

    def _claim(self, now: float) -> FileRow | None:
        groups = self.groups
        params = {"me": self.host, "now": now, "groups": list(groups), "stamp": now_text(),
                  "clock": self.clock(), "lease": self.clock() + self.lease}
        with self.transaction() as conn:
            for where, order in _CLAIM_WHERE if groups else _CLAIM_WHERE[:1]:
                row = conn.conn.execute(_CLAIM.format(where=where, order=order),
                                        params).fetchone()
                if row is not None:
                    return as_record(FileRow, row)
        return None

    def _claim_copy(self, destination: str, now: float) -> CopyRow | None:
        """As `_claim`, among `destination`'s copies: this host's, then its groups'."""
        params = {"me": self.host, "now": now, "groups": list(self.groups),
                  "stamp": now_text(), "clock": self.clock(), "dest": destination,
                  "lease": self.clock() + self.lease}
        with self.transaction() as conn:
            for where, order in _CLAIM_WHERE if self.groups else _CLAIM_WHERE[:1]:
                row = conn.conn.execute(_CLAIM_COPY.format(where=where, order=order),
                                        params).fetchone()
                if row is not None:
                    return self._with_file(conn, row)
        return None

    def _next_copy_due(self, destination: str) -> float | None:
        if not self.groups:
            return SqlCopies._next_copy_due(self, destination)
        row = self.query(_NEXT_COPY_DUE, {"me": self.host, "groups": list(self.groups),
                                          "offset": self.clock_offset,
                                          "dest": destination})[0]
        return None if row["due"] is None else float(row["due"])

    def _next_due(self) -> float | None:
        if not self.groups:
            return SqlClaims._next_due(self)
        row = self.query(_NEXT_DUE, {"me": self.host, "groups": list(self.groups),
                                     "offset": self.clock_offset})[0]
        return None if row["due"] is None else float(row["due"])

    def listen(self, wake: Callable[[], None], stop: threading.Event) -> None:
        """Until `stop`: LISTEN on a connection of its own, and `wake` this host's workers
        when another host makes a row of one of `groups` pending (a new file on a shared
        mount, a row put back). Outages are waited out with back-off; after each
        (re)connection `wake` runs once, for whatever was missed meanwhile."""
        def heard(payload: str | None) -> None:
            host, _, group = (payload or "").partition("\t")
            if payload is None or (host != self.host and group in self.groups):
                wake()

        self._listening(WORK_CHANNEL, heard, stop)

    def watch_events(self, stop: threading.Event) -> None:
        """Until `stop`: LISTEN on a connection of its own and ring the bell at each event
        another host or process records; after each (re)connection it rings once, for
        whatever was missed meanwhile. Outages are waited out with back-off."""
        self._listening(EVENTS_CHANNEL, lambda _payload: self.bell.ring(), stop)

    def _listening(self, channel: str, heard: Callable[[str | None], None],
                   stop: threading.Event) -> None:
        delay = LISTEN_RETRY_FIRST
        while not stop.is_set():
            try:
                with self.connect() as conn:
                    conn.execute(f"LISTEN {channel}")
                    heard(None)
                    delay = LISTEN_RETRY_FIRST
                    while not stop.is_set():
                        if channel == EVENTS_CHANNEL:
                            failpoints.hit("events.watch", stop)
                        for note in conn.notifies(timeout=LISTEN_POLL):
                            heard(note.payload)
            except (LedgerError, self.psycopg.Error) as exc:
                log.warning("listening for other hosts (%s): %s; trying again in %.0fs",
                            channel, exc, delay)
                if stop.wait(delay):
                    return
                delay = min(delay * 2, LISTEN_RETRY_MAX)

    def _before_event(self, conn: Executor) -> None:
        """Commits that record events take turns (the lock is held to the commit), so ids
        become visible in order: no reader at id N ever meets a smaller one later."""
        conn.execute("SELECT pg_advisory_xact_lock(?)", (EVENTS_LOCK,))

    def _event_added(self, conn: Executor, event_id: int) -> None:
        conn.execute(f"SELECT pg_notify('{EVENTS_CHANNEL}', ?)", (str(event_id),))

    def _work_added(self, conn: Executor, groups: set[str]) -> None:
        for group in sorted(groups):
            conn.execute(f"SELECT pg_notify('{WORK_CHANNEL}', ?)", (f"{self.host}\t{group}",))

    def retry_failed(self, paths: list[str] | None = None) -> int:
        count = super().retry_failed(paths)
        if count:
            with self.transaction() as conn:
                self._mark_changed(conn)
        return count

    def _after_copy(self, conn: Executor) -> None:
        for table in ("uploads", "files"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"GREATEST((SELECT MAX(id) FROM {table}), 1))")

    def _mark_changed(self, conn: Executor) -> None:
        """Bump the counter other daemons watch, so they pick up a retry at once."""
        conn.execute("UPDATE ledger_changes SET version = version + 1 WHERE id = 1")


def _is_postgres_location(location: str) -> bool:
    return location.startswith(("postgresql://", "postgres://"))


def _open(location: str, readonly: bool, exclusive: bool, host: str) -> Ledger:
    return PostgresLedger.open_url(location, readonly=readonly, exclusive=exclusive, host=host)


register_backend(_is_postgres_location, _open)
