"""The intake and scanner stages: paths the observers report and folders to walk, turned
into sightings noted in the ledger, in batches.

Both stages run under the daemon's supervisor; each waits on a queue of its own whose
`None` means stop. A ledger that cannot be written costs a wait and a rescan, never an
event: whatever a failed batch or walk held is found again by walking.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from ossync.config import WatchConfig
from ossync.core import failpoints
from ossync.intake.scanner import scan, sight
from ossync.ledger import Intake, LedgerUnavailable, Sighting

log = logging.getLogger("ossync.service.intake")
INTAKE_BATCH = 1000
LEDGER_RETRY = 5.0  # seconds between tries while the ledger cannot be written


class IntakeStages:
    def __init__(self, work: Intake, folders: Mapping[str, WatchConfig],
                 stop: threading.Event, on_ledger_trouble: Callable[[], None]) -> None:
        self.work = work
        self.folders = folders  # the daemon's, changed in place by a reload
        self.stop = stop
        self.on_ledger_trouble = on_ledger_trouble
        self.paths: queue.Queue[tuple[WatchConfig, str] | None] = queue.Queue()
        self.scans: queue.Queue[tuple[WatchConfig, Path | None] | None] = queue.Queue()

    def request_scan(self, folder: WatchConfig, start: Path | None = None) -> None:
        self.scans.put((folder, start))

    def request_scan_all(self) -> None:
        for folder in list(self.folders.values()):
            self.scans.put((folder, None))

    def close(self) -> None:
        """Let both stages end (after whatever is queued before it)."""
        self.scans.put(None)
        self.paths.put(None)

    def run_intake(self) -> None:
        """Events → stat → one ledger transaction per batch."""
        while not self.stop.is_set():
            item = self.paths.get()  # None: shut down
            failpoints.hit("intake.loop", self.stop)
            batch: dict[str, Sighting] = {}
            while item is not None and len(batch) < INTAKE_BATCH:
                found = sight(*item)
                if found is not None:
                    batch[found.path] = found
                try:
                    item = self.paths.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            try:
                self.work.note(batch.values())
            except LedgerUnavailable as exc:
                log.error("the ledger cannot be written (%s); %d event(s) will be found by "
                          "a rescan", exc, len(batch))
                self.on_ledger_trouble()
                self.stop.wait(LEDGER_RETRY)
                self.request_scan_all()

    def run_scanner(self) -> None:
        while not self.stop.is_set():
            request = self.scans.get()
            if request is None:
                return
            failpoints.hit("scanner.loop", self.stop)
            folder, start = request
            if folder.label not in self.folders:
                continue
            began = time.monotonic()
            try:
                seen, queued = scan(self.work, folder, start)
            except LedgerUnavailable as exc:
                log.error("scan of %s stopped: the ledger cannot be written (%s); "
                          "trying again in %.0fs", start or folder.path, exc, LEDGER_RETRY)
                self.on_ledger_trouble()
                self.stop.wait(LEDGER_RETRY)
                self.scans.put(request)
                continue
            log.debug("scanned %s: %d file(s), %d queued, %.2fs", start or folder.path, seen,
                      queued, time.monotonic() - began)
