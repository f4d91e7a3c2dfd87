"""The outbox in SQL: events recorded (in the transaction of the change they tell of), read
in id order, and one cursor per delivery endpoint that a sender advances as the
endpoint takes them.

Ids only grow, and an event is visible only after every event with a smaller id is:
SQLite has one writer at a time; PostgreSQL backends serialise the commits that record
events (`_before_event`). So a reader that has seen id N never sees a smaller one
later, and "everything after N" loses nothing.

A cursor is taken under a lease (the backend's clock) by one host at a time and every
move is guarded by who holds it and where it stands, so on a fleet each event goes
once per endpoint, by whichever host holds its cursor. A new endpoint starts at the
last event recorded: it hears of what happens from then on.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from ossync.core.textforms import printable
from ossync.ledger.events import NewEvent, delivery_gave_up
from ossync.ledger.records import Delivery, Event, now_text
from ossync.ledger.sql.base import Executor, SqlBase, as_record

_DELIVERIES = """
SELECT d.*, (SELECT COUNT(*) FROM events e WHERE e.id > d.delivered) AS pending,
       (SELECT at FROM events e WHERE e.id > d.delivered ORDER BY e.id LIMIT 1)
           AS oldest_pending_at, NULL AS lease_left
FROM deliveries d
"""
MINE = "endpoint = :endpoint AND claimed_by = :me AND delivered = :at"
MAX_ERROR = 500  # characters of a receiver's answer kept as last_error


class SqlOutbox(SqlBase):
    # --- events ------------------------------------------------------------------

    def record_event(self, event: NewEvent) -> int:
        """An event that goes with no other change (the daemon held, resumed)."""
        with self.transaction() as conn:
            return self._insert_event(conn, event)

    def _insert_event(self, conn: Executor, event: NewEvent) -> int:
        """Inside the caller's transaction, as its last statement (PostgreSQL holds a lock
        from here to the commit); the bell rings after the commit."""
        self._before_event(conn)
        row = conn.execute("INSERT INTO events (type, at, host, folder, data) "
                           "VALUES (?, ?, ?, ?, ?) RETURNING id",
                           (event.type, now_text(), self.host, event.folder,
                            event.json())).fetchone()
        self._event_added(conn, int(row["id"]))
        self._events_written = True
        return int(row["id"])

    def _before_event(self, conn: Executor) -> None:
        """What the engine needs so ids become visible in order (PostgreSQL: a lock)."""

    def _event_added(self, conn: Executor, event_id: int) -> None:
        """Tell other processes and hosts, at commit (PostgreSQL: NOTIFY)."""

    def events_after(self, after: int, limit: int = 100) -> list[Event]:
        rows = self.query("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?",
                          (after, limit))
        return [_event(r) for r in rows]

    def last_event_id(self) -> int:
        return int(self.query("SELECT COALESCE(MAX(id), 0) AS n FROM events")[0]["n"])

    # --- cursors -----------------------------------------------------------------

    def take_cursor(self, endpoint: str, lease: float) -> Delivery:
        """The endpoint's cursor, held by this host for `lease` seconds more unless another
        host holds it (then `claimed_by` names that host). Made at the last event if new."""
        now = self.clock()
        with self.transaction() as conn:
            conn.execute("INSERT INTO deliveries (endpoint, delivered, updated_at) VALUES "
                         "(?, (SELECT COALESCE(MAX(id), 0) FROM events), ?) "
                         "ON CONFLICT (endpoint) DO NOTHING", (endpoint, now_text()))
            conn.execute("UPDATE deliveries SET claimed_by = :me, lease_until = :lease "
                         "WHERE endpoint = :endpoint AND (claimed_by IS NULL OR "
                         "claimed_by = :me OR lease_until < :now)",
                         {"me": self.host, "lease": now + lease, "endpoint": endpoint,
                          "now": now})
            row = conn.execute(_DELIVERIES + "WHERE d.endpoint = ?", (endpoint,)).fetchone()
        found = as_record(Delivery, row)
        assert found is not None
        left = None if found.lease_until is None else found.lease_until - now
        return dataclasses.replace(found, lease_left=left)

    def advance_cursor(self, endpoint: str, at: int, through: int, sent: int,
                       lease: float) -> bool:
        """Everything up to `through` went (`sent` of them delivered, the rest passed
        over); False when this host no longer holds the cursor where it stood (`at`)."""
        with self.transaction() as conn:
            return bool(conn.execute(
                "UPDATE deliveries SET delivered = :through, attempts = 0, next_attempt = 0, "
                "last_error = NULL, sent = sent + :sent, lease_until = :lease, "
                f"updated_at = :stamp WHERE {MINE}",
                {"through": through, "sent": sent, "lease": self.clock() + lease,
                 "stamp": now_text(), "endpoint": endpoint, "me": self.host,
                 "at": at}).rowcount)

    def delivery_failed(self, endpoint: str, at: int, error: str, delay: float,
                        lease: float) -> bool:
        """The event after `at` was refused: try it again after `delay` seconds."""
        with self.transaction() as conn:
            return bool(conn.execute(
                "UPDATE deliveries SET attempts = attempts + 1, failures = failures + 1, "
                "last_error = :error, next_attempt = :due, lease_until = :lease, "
                f"updated_at = :stamp WHERE {MINE}",
                {"error": printable(error)[:MAX_ERROR], "due": time.time() + delay,
                 "lease": self.clock() + lease, "stamp": now_text(), "endpoint": endpoint,
                 "me": self.host, "at": at}).rowcount)

    def give_up(self, endpoint: str, at: int, before: str, error: str,
                max_age: float) -> int:
        """Pass over the events after `at` recorded before `before` (RFC 3339), recording
        a `delivery.gave_up` event in the same transaction; how many were given up."""
        with self.transaction() as conn:
            span = conn.execute("SELECT MIN(id) AS first, MAX(id) AS last, COUNT(*) AS n "
                                "FROM events WHERE id > ? AND at < ?", (at, before)).fetchone()
            if not span["n"]:
                return 0
            moved = conn.execute(
                "UPDATE deliveries SET delivered = :through, attempts = 0, next_attempt = 0, "
                "given_up = given_up + :n, updated_at = :stamp "
                f"WHERE {MINE}", {"through": span["last"], "n": span["n"],
                                  "stamp": now_text(), "endpoint": endpoint,
                                  "me": self.host, "at": at}).rowcount
            if not moved:
                return 0
            self._insert_event(conn, delivery_gave_up(
                host=self.host, endpoint=endpoint, first_id=int(span["first"]),
                last_id=int(span["last"]), count=int(span["n"]),
                error=error[:MAX_ERROR], max_age=max_age))
            return int(span["n"])

    def release_cursor(self, endpoint: str) -> None:
        """Let another host take the cursor at once (this one stops)."""
        with self.transaction() as conn:
            conn.execute("UPDATE deliveries SET claimed_by = NULL, lease_until = NULL "
                         "WHERE endpoint = ? AND claimed_by = ?", (endpoint, self.host))

    def deliveries(self) -> list[Delivery]:
        """Every endpoint's cursor, with how many events wait for it and since when."""
        return [d for d in (as_record(Delivery, r) for r in self.query(
            _DELIVERIES + "ORDER BY d.endpoint")) if d is not None]


def _event(row: Any) -> Event:
    found = as_record(Event, row)
    assert found is not None
    return found
