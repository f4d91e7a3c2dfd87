"""The upload workers' stage: take a due row, run it to one outcome, and know at every
moment which rows are in hand.

What is in hand matters after a ledger outage: a claim the ledger committed while its
answer was lost holds a row that no worker has; `Hands.in_hand()` lets the daemon put
back every claimed row except those. The health check reads `busy_since`/`busy_files`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ossync.config import Config
from ossync.core import failpoints
from ossync.core.clock import zone
from ossync.core.retry import RetryPolicy
from ossync.credentials import RotatingCredentials
from ossync.ledger import Deferred, FileRow, LedgerUnavailable, Queue
from ossync.stores import metadata_limit
from ossync.upload.worker import Limits, Worker

log = logging.getLogger("ossync.service.daemon")
LEDGER_RETRY = 5.0  # seconds between tries while the ledger cannot be used
INTERNAL_ERROR_DELAY = 60.0  # a row that hit a bug waits this long before its next try


class Hands:
    """The workers' loop, and the rows they hold (claimed, processing or being put back)."""

    def __init__(self, work: Queue, stop: threading.Event,
                 refresher: RotatingCredentials | None,
                 on_ledger_trouble: Callable[[], None]) -> None:
        self.work = work
        self.stop = stop
        self.refresher = refresher
        self.on_ledger_trouble = on_ledger_trouble
        self.busy_since: dict[str, float] = {}  # worker thread → monotonic start of its file
        self.busy_files: dict[str, tuple[str, int]] = {}  # worker thread → (path, size)
        self._held: set[int] = set()
        self._lock = threading.Lock()

    def in_hand(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def run(self, worker: Worker) -> None:
        """One worker's stage body: until stop."""
        while not self.stop.is_set():
            failpoints.hit("worker.loop", self.stop)
            if self.refresher is not None and not self.refresher.ready.is_set():
                self.refresher.ready.wait(1.0)  # uploads held: files stay queued
                continue
            try:
                row = self.work.next_row(self.stop)
            except LedgerUnavailable as exc:  # disk full, locked by another process, I/O error
                log.error("the ledger cannot be used (%s); trying again in %.0fs",
                          exc, LEDGER_RETRY)
                self.on_ledger_trouble()
                self.stop.wait(LEDGER_RETRY)
                continue
            if row is not None:
                with self._lock:
                    self._held.add(row.id)
                try:
                    self._process(worker, row)
                finally:
                    with self._lock:
                        self._held.discard(row.id)

    def _process(self, worker: Worker, row: FileRow) -> None:
        name = threading.current_thread().name
        self.busy_since[name] = time.monotonic()
        self.busy_files[name] = (row.path, row.size)
        put_back: tuple[float, str | None, bool] | None = None
        try:
            if failpoints.hit("worker.process", self.stop):
                return  # hung until shutdown (a failpoint); the row stays claimed
            worker.process(row)
        except LedgerUnavailable as exc:  # the ledger went away with the row in hand
            log.error("the ledger cannot be used (%s) while %s was in hand; it goes back "
                      "to the queue when the ledger answers", exc, row.path)
            self.on_ledger_trouble()
            put_back = (0.0, None, False)
        except Exception:  # a bug must cost one file, never the worker
            log.exception("unexpected error on %s; it stays queued", row.path)
            put_back = (INTERNAL_ERROR_DELAY, "internal error (see log)", True)
        finally:
            self.busy_since.pop(name, None)
            self.busy_files.pop(name, None)
        if put_back is not None:
            self._put_back(row, *put_back)

    def _put_back(self, row: FileRow, delay: float, error: str | None,
                  count_attempt: bool) -> None:
        """Return a claimed row to the queue, waiting out a ledger outage: a row left
        `uploading` would otherwise wait for the next start. (Whatever was sent meanwhile
        is recognised by its key on the next try: nothing goes twice.)"""
        while not self.stop.is_set():
            try:
                self.work.settle(row, Deferred(delay, error=error,
                                               count_attempt=count_attempt))
                return
            except LedgerUnavailable:
                self.stop.wait(LEDGER_RETRY)  # at worst reset_interrupted at next start


def limits_of(config: Config) -> Limits:
    """What a worker (the primary's or a replica's) takes from the config; made again at
    each reload."""
    return Limits(bucket=config.bucket, max_file_size=config.max_file_size,
                  timezone=zone(config.timezone), host=config.host,
                  retry=RetryPolicy(initial=config.retry_initial_delay,
                                    longest=config.retry_max_delay),
                  claim_across_hosts_from=config.multipart_threshold,
                  meta_limit=metadata_limit(config))
