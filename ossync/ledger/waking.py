"""The queue's wake-up, owned by the queue: idle workers sleep until the earliest row may
be due or until new work is noted — no polling, and no lost wake-up.

Mixed into each backend, over the shared statements (`_note`, `_claim`, `_next_due`,
the content claims). A worker asks `next_row(stop)`; the decision to sleep is taken on
facts no older than the last wake-up: a `notify()` that comes after the claim found
nothing, however late the sleep begins, makes the sleep return at once.

Each lane sleeps on its own: the primary's workers (`next_row`) and each replica's
(`next_copy`). `notify()` wakes them all; copies shared or filled in wake only the
replicas' lanes, so a file read once does not send every idle worker to the ledger.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ossync.core import failpoints
from ossync.ledger.records import CopyRow, FileRow, Sighting

MAX_IDLE_WAIT = 300.0  # re-check at least this often, whatever the queue says


class _Lane:
    """Where one kind of worker sleeps: the primary's, or one replica's."""

    def __init__(self) -> None:
        self.wake = threading.Condition()
        self.generation = 0  # bumped by every wake-up of this lane

    def ring(self) -> None:
        with self.wake:
            self.generation += 1
            self.wake.notify_all()


class Waker:
    _lanes: dict[str | None, _Lane]  # None: the primary's workers; else a replica's name
    _lanes_lock: threading.Lock
    _held: dict[tuple[str, str], bool]  # claims our workers hold → also in the ledger
    _held_lock: threading.Lock

    def _init_waking(self) -> None:
        self._lanes = {None: _Lane()}
        self._lanes_lock = threading.Lock()
        self._held = {}
        self._held_lock = threading.Lock()

    def _lane(self, name: str | None) -> _Lane:
        with self._lanes_lock:
            return self._lanes.setdefault(name, _Lane())

    if TYPE_CHECKING:  # the backend's statements (ossync.ledger.sql.claims)
        def _note(self, sightings: Iterable[Sighting]) -> int: ...

        def _claim(self, now: float) -> FileRow | None: ...

        def _next_due(self) -> float | None: ...

        def _claim_copy(self, destination: str, now: float) -> CopyRow | None: ...

        def _next_copy_due(self, destination: str) -> float | None: ...

        def _claim_content(self, bucket: str, sha256: str, *, take_own: bool = False
                           ) -> bool: ...

        def _release_content(self, bucket: str, sha256: str) -> None: ...

    def note(self, sightings: Iterable[Sighting]) -> int:
        queued = self._note(sightings)
        if queued:
            self._lane(None).ring()
        return queued

    def notify(self) -> None:
        with self._lanes_lock:
            lanes = list(self._lanes.values())
        for lane in lanes:
            lane.ring()

    def _copies_added(self) -> None:
        """Copies became due: wake the replicas' workers (not the primary's)."""
        with self._lanes_lock:
            lanes = [lane for name, lane in self._lanes.items() if name is not None]
        for lane in lanes:
            lane.ring()

    def next_row(self, stop: threading.Event) -> FileRow | None:
        lane = self._lane(None)
        with lane.wake:
            seen = lane.generation
        row = self._claim(time.time())
        if row is not None:
            return row
        due = self._next_due()
        failpoints.hit("queue.decided", stop)
        _sleep(lane, seen, due, stop)
        return None

    def next_copy(self, destination: str, stop: threading.Event) -> CopyRow | None:
        """A replica's due copy, claimed under a lease; or None after sleeping as
        `next_row` does, in the replica's own lane."""
        lane = self._lane(destination)
        with lane.wake:
            seen = lane.generation
        copy = self._claim_copy(destination, time.time())
        if copy is not None:
            return copy
        _sleep(lane, seen, self._next_copy_due(destination), stop)
        return None

    def claim_content(self, bucket: str, sha256: str, *, durable: bool = False) -> bool:
        """Held in this process for every file; in the ledger too when `durable`, against
        other hosts. A claim of this host that none of its workers holds — left by a
        release that failed while the ledger was away — is taken over at once."""
        with self._held_lock:
            if (bucket, sha256) in self._held:
                return False
            self._held[(bucket, sha256)] = durable
        if not durable:
            return True
        try:
            if self._claim_content(bucket, sha256, take_own=True):
                return True
        except BaseException:
            self._drop_held(bucket, sha256)
            raise
        self._drop_held(bucket, sha256)
        return False

    def release_content(self, bucket: str, sha256: str) -> None:
        """Free the bytes here, and in the ledger if a claim is still there (the record of
        an upload releases it in its own transaction: no commit of its own then)."""
        if self._drop_held(bucket, sha256):  # first: the row may outlive a failed release
            self._release_content(bucket, sha256)

    def _released(self, bucket: str, sha256: str) -> None:
        """The ledger's claim went with the upload's record."""
        with self._held_lock:
            if (bucket, sha256) in self._held:
                self._held[(bucket, sha256)] = False

    def _drop_held(self, bucket: str, sha256: str) -> bool:
        """Forget a claim held here; True when the ledger still holds it."""
        with self._held_lock:
            return self._held.pop((bucket, sha256), False)


def _sleep(lane: _Lane, seen: int, due: float | None, stop: threading.Event) -> None:
    """Until `due` (or a while), unless the lane was woken since generation `seen`."""
    with lane.wake:
        if lane.generation != seen or stop.is_set():
            return
        timeout = MAX_IDLE_WAIT if due is None else min(due - time.time(), MAX_IDLE_WAIT)
        if timeout > 0:
            lane.wake.wait(timeout)
