"""The durable work queue, as the daemon's threads use it: the ledger plus a wake-up.

A row is written the moment a candidate is seen; `next_attempt` says when a
worker may look at it again (after the settle period, or after a back-off).
Workers sleep on a condition until the earliest due time or until new work is
noted: no polling while idle. The rows themselves live in the ledger backend.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection, Iterable

from ossync.core import failpoints
from ossync.core.objects import UploadResult
from ossync.ledger.contract import Ledger
from ossync.ledger.records import Content, FileRow, Sighting, Upload

MAX_IDLE_WAIT = 300.0  # re-check at least this often, whatever the queue says


class WorkQueue:
    def __init__(self, ledger: Ledger, groups: tuple[str, ...] = ()) -> None:
        self.ledger = ledger
        self.groups = groups  # folder groups this host serves besides its own rows
        self._wake = threading.Condition()
        self._generation = 0  # bumped by every notify(): a wake-up is never lost
        self._held: set[tuple[str, str]] = set()  # content claims our workers hold now
        self._held_lock = threading.Lock()

    def note(self, sightings: Iterable[Sighting]) -> int:
        """Record candidates; wakes the workers when anything was (re)queued."""
        queued = self.ledger.note(sightings, time.time())
        if queued:
            self.notify()
        return queued

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        return self.ledger.known_unchanged(path, size, mtime_ns)

    def notify(self) -> None:
        """Something may be due: wake every idle worker, and any about to sleep."""
        with self._wake:
            self._generation += 1
            self._wake.notify_all()

    def reset_interrupted(self, keep: Collection[int] = ()) -> int:
        """Claimed rows no worker holds back to pending (all of this host's at start)."""
        count = self.ledger.reset_interrupted(keep)
        if count:
            self.notify()
        return count

    def claim(self) -> FileRow | None:
        return self.ledger.claim(time.time(), self.groups)

    def next_row(self, stop: threading.Event) -> FileRow | None:
        """A due row, claimed; or None after sleeping until the earliest row may be due,
        new work is noted, or `stop`.

        The decision to sleep is taken on facts no older than the last wake-up: a
        notify() that comes after the claim found nothing (however late the sleep
        begins) makes the sleep return at once, so rows noted, deferred, put back after
        an outage or retried are never left waiting for MAX_IDLE_WAIT."""
        with self._wake:
            seen = self._generation
        row = self.claim()
        if row is not None:
            return row
        due = self.ledger.next_due(self.groups)
        failpoints.hit("queue.decided", stop)
        with self._wake:
            if self._generation != seen or stop.is_set():
                return None
            timeout = MAX_IDLE_WAIT if due is None else min(due - time.time(), MAX_IDLE_WAIT)
            if timeout > 0:
                self._wake.wait(timeout)
        return None

    def claim_content(self, bucket: str, sha256: str) -> bool:
        """One sender per content: False while another worker or host sends these bytes.

        The claims this process's workers hold are known here, so a claim of this host
        that none of them holds — left by a release that failed while the ledger was
        away — is taken over at once instead of blocking those bytes for a lease."""
        with self._held_lock:
            if (bucket, sha256) in self._held:
                return False
            self._held.add((bucket, sha256))
        try:
            if self.ledger.claim_content(bucket, sha256, take_own=True):
                return True
        except BaseException:
            self._forget_held(bucket, sha256)
            raise
        self._forget_held(bucket, sha256)
        return False

    def release_content(self, bucket: str, sha256: str) -> None:
        self._forget_held(bucket, sha256)  # first: the row may outlive a failed release
        self.ledger.release_content(bucket, sha256)

    def _forget_held(self, bucket: str, sha256: str) -> None:
        with self._held_lock:
            self._held.discard((bucket, sha256))

    def defer(self, row: FileRow, *, delay: float, size: int | None = None,
              mtime_ns: int | None = None, error: str | None = None,
              count_attempt: bool = False, code: str | None = None) -> None:
        """Back to pending, due after `delay` (not settled yet, or a retryable failure).

        `code` names a failure in a word (`RequestTimeout`, `EIO`) for the daemon's
        metrics; the ledger keeps `error`, the text."""
        self.ledger.defer(row, due=time.time() + delay,
                          size=row.size if size is None else size,
                          mtime_ns=row.mtime_ns if mtime_ns is None else mtime_ns,
                          error=error, count_attempt=count_attempt)
        self.notify()

    def intend(self, row: FileRow, *, sha256: str, key: str) -> None:
        self.ledger.intend(row, sha256=sha256, key=key)

    def finish(self, row: FileRow, *, size: int, mtime_ns: int, sha256: str,
               upload: Upload) -> None:
        self.ledger.finish(row, size=size, mtime_ns=mtime_ns, sha256=sha256, upload=upload)

    def record_upload(self, row: FileRow, result: UploadResult, *, bucket: str, sha256: str,
                      content_type: str, mtime_ns: int, content: Content | None = None
                      ) -> Upload:
        return self.ledger.record_upload(row, result, bucket=bucket, sha256=sha256,
                                         content_type=content_type, mtime_ns=mtime_ns,
                                         content=content)

    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload:
        return self.ledger.record_direct(path, folder, mtime_ns=mtime_ns, sha256=sha256,
                                         content_type=content_type, bucket=bucket,
                                         result=result, existing=existing)

    def settle_terminal(self, row: FileRow, state: str, error: str | None,
                        attempts: int | None = None) -> None:
        self.ledger.settle_terminal(row, state, error, attempts)

    def forget(self, row: FileRow) -> None:
        self.ledger.forget(row)
