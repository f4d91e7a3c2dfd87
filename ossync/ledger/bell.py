"""The events' wake-up: one `Bell` per ledger location in this process, rung after every
commit that recorded an event, so whoever waits for events (a webhook sender, a long
poll of `/v1/events`, `ossync events --follow`) wakes at once, without polling.

Every handle this process opens on one location shares its bell: the daemon writes
through its own handle and the listener reads through a read-only one, and a long poll
on the reader still wakes when a worker's commit records an upload. Events another
process or host writes ring it too, through whoever hears of them: the daemon's main
loop (SQLite: the file's data version changed), `Feed.watch_events` (PostgreSQL:
`NOTIFY`; SQLite: inotify on the ledger's folder).

`next_events` takes the bell's count before it reads: a ring that comes after the read
found nothing, however late the wait begins, ends the wait at once. No ring is lost.
"""

from __future__ import annotations

import threading
import time
import weakref
from typing import TYPE_CHECKING

from ossync.ledger.records import Event

_BELLS: weakref.WeakValueDictionary[str, Bell] = weakref.WeakValueDictionary()
_BELLS_LOCK = threading.Lock()


class Bell:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rung = 0

    @property
    def rung(self) -> int:
        """How often it has rung: compare before and after a look."""
        with self._cond:
            return self._rung

    def ring(self) -> None:
        with self._cond:
            self._rung += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout: float) -> bool:
        """Until it rings after `seen` (True), or `timeout` seconds (False)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._rung == seen:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return True


def bell_for(location: str) -> Bell:
    """The bell of a ledger location, shared by every handle on it in this process."""
    with _BELLS_LOCK:
        bell = _BELLS.get(location)
        if bell is None:
            bell = _BELLS[location] = Bell()
        return bell


class EventWaiting:
    """`next_events`, over a backend's `events_after` and its bell."""

    bell: Bell

    if TYPE_CHECKING:  # the backend's statement (ossync.ledger.sql.outbox)
        def events_after(self, after: int, limit: int = 100) -> list[Event]: ...

    def next_events(self, after: int, limit: int, timeout: float,
                    stop: threading.Event | None = None) -> list[Event]:
        """Events after `after`; when there are none, wait up to `timeout` for the bell
        (or `stop`, whose setter rings it) and look once more. May return [] early."""
        seen = self.bell.rung
        found = self.events_after(after, limit)
        if found or timeout <= 0 or (stop is not None and stop.is_set()):
            return found
        if self.bell.wait(seen, timeout) and not (stop is not None and stop.is_set()):
            return self.events_after(after, limit)
        return []
