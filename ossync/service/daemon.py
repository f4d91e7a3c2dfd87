"""`ossync run`: observer → intake → durable queue → upload workers, plus periodic scans.

Threads start in order (workers, intake, scanner, observer) and stop in reverse.
Signal handlers only set events; the main loop acts on them.
"""

from __future__ import annotations

import functools
import logging
import queue
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from ossync.config import Config, WatchConfig, load_config
from ossync.core.clock import zone
from ossync.intake.openfiles import OpenWriters
from ossync.intake.scanner import scan, sight
from ossync.intake.watcher import Watcher
from ossync.ledger import Ledger, LedgerUnavailable, Sighting, WorkQueue
from ossync.service.health import hang_worker_for_test
from ossync.targets import Target
from ossync.targets.factory import make_target
from ossync.upload.worker import ContentClaims, Limits, Worker

log = logging.getLogger("ossync.service.daemon")
INTAKE_BATCH = 1000
STOP_GRACE = 30.0  # seconds in-flight uploads get to finish on shutdown
LEDGER_RETRY = 5.0  # seconds between tries while the ledger cannot be written


class Daemon:
    def __init__(self, config: Config, *, target: Target | None = None,
                 on_ready: Callable[[], None] | None = None) -> None:
        self.config = config
        self.stop_event = threading.Event()
        self.reload_event = threading.Event()
        self.on_ready = on_ready
        self.on_reloading: Callable[[], None] | None = None  # SIGHUP received
        self.on_reloaded: Callable[[], None] | None = None  # ... and handled
        self._target = target
        self._paths: queue.Queue[tuple[WatchConfig, str] | None] = queue.Queue()
        self._scan_requests: queue.Queue[tuple[WatchConfig, Path | None] | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self.folders: dict[str, WatchConfig] = {w.label: w for w in config.watch}
        self.busy_since: dict[str, float] = {}  # worker thread → monotonic start of its file
        self.busy_files: dict[str, tuple[str, int]] = {}  # worker thread → (path, size)
        self.heartbeat = time.monotonic()  # the main loop's last turn

    # --- lifecycle -----------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `stop_event`); returns an exit status."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGHUP, self._on_signal)
        self.ledger = Ledger.open(self.config.ledger, exclusive=True)
        try:
            self.queue = WorkQueue(self.ledger)
            interrupted = self.queue.reset_interrupted()
            if interrupted:
                log.info("%d upload(s) interrupted by the last stop will be retried", interrupted)
            self.target = self._target or make_target(self.config)
            self._start()
            log.info("watching %d folder(s) with %d worker(s); ledger %s",
                     len(self.folders), self.config.workers, self.config.ledger)
            if self.on_ready:
                self.on_ready()
            self._main_loop()
        finally:
            self._shutdown()
        return 0

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_event.set()
        else:
            self.stop_event.set()
        if hasattr(self, "queue"):
            self.queue.notify()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """Workers, intake and scanner (the observers belong to `watcher`)."""
        return tuple(self._threads)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _start(self) -> None:
        limits = Limits(bucket=self.config.bucket, max_file_size=self.config.max_file_size,
                        timezone=zone(self.config.timezone),
                        retry_base=self.config.retry_initial_delay,
                        retry_max=self.config.retry_max_delay)
        self.writers = OpenWriters([str(w.path) for w in self.config.watch])
        claims = ContentClaims()
        for i in range(self.config.workers):
            worker = Worker(self.queue, self.target, limits, self.folders, self.writers, claims)
            self._spawn(f"ossync-worker-{i}", functools.partial(self._work, worker))
        self._spawn("ossync-intake", self._intake)
        self._spawn("ossync-scanner", self._scanner)
        self.watcher = Watcher(self._paths, self.request_scan, self.request_scan_all)
        self.watcher.start(self.config.watch)
        self.request_scan_all()

    def _main_loop(self) -> None:
        next_scan = time.monotonic() + self.config.scan_interval
        seen_version = self.ledger.data_version()
        while not self.stop_event.is_set():
            self.stop_event.wait(min(1.0, max(next_scan - time.monotonic(), 0.0)))
            self.heartbeat = time.monotonic()
            version = self.ledger.data_version()
            if version != seen_version:  # another process wrote (e.g. `ossync retry`)
                seen_version = version
                self.queue.notify()
            if self.reload_event.is_set():
                self.reload_event.clear()
                if self.on_reloading:
                    self.on_reloading()
                try:
                    self._reload()
                finally:
                    if self.on_reloaded:
                        self.on_reloaded()
            if time.monotonic() >= next_scan:
                self.watcher.check_watch_limits()  # new subfolders may have found none left
                self.request_scan_all()
                next_scan = time.monotonic() + self.config.scan_interval

    def _shutdown(self) -> None:
        log.info("stopping: letting in-flight uploads finish (up to %.0fs)", STOP_GRACE)
        self.stop_event.set()
        if hasattr(self, "watcher"):
            self.watcher.stop()
        self._scan_requests.put(None)
        self._paths.put(None)
        if hasattr(self, "queue"):
            self.queue.notify()
        deadline = time.monotonic() + STOP_GRACE
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
        stuck = [t.name for t in self._threads if t.is_alive()]
        if stuck:
            log.warning("stopped with %s still busy; their files stay queued", ", ".join(stuck))
        if hasattr(self, "target") and self._target is None:
            self.target.close()
        if not stuck:
            self.ledger.close()

    # --- threads -------------------------------------------------------------

    def _work(self, worker: Worker) -> None:
        name = threading.current_thread().name
        while not self.stop_event.is_set():
            try:
                row = self.queue.claim()
                if row is None:
                    self.queue.wait_for_work(self.stop_event)
                    continue
            except LedgerUnavailable as exc:  # disk full, locked by another process, I/O error
                log.error("the ledger cannot be used (%s); trying again in %.0fs",
                          exc, LEDGER_RETRY)
                self.stop_event.wait(LEDGER_RETRY)
                continue
            self.busy_since[name] = time.monotonic()
            self.busy_files[name] = (row.path, row.size)
            try:
                if hang_worker_for_test(row.path, self.stop_event):
                    continue  # test-only hook: hung until shutdown; the row stays queued
                worker.process(row)
            except Exception:  # a bug must cost one file, never the worker
                log.exception("unexpected error on %s; it stays queued", row.path)
                try:
                    self.queue.defer(row, delay=60.0, error="internal error (see log)",
                                     count_attempt=True)
                except LedgerUnavailable:
                    self.stop_event.wait(LEDGER_RETRY)  # reset to pending at next start
            finally:
                self.busy_since.pop(name, None)
                self.busy_files.pop(name, None)

    def _intake(self) -> None:
        """Events → stat → one ledger transaction per batch."""
        while not self.stop_event.is_set():
            item: tuple[WatchConfig, str] | None = self._paths.get()  # None: shut down
            batch: dict[str, Sighting] = {}
            while item is not None and len(batch) < INTAKE_BATCH:
                found = sight(*item)
                if found is not None:
                    batch[found.path] = found
                try:
                    item = self._paths.get_nowait()
                except queue.Empty:
                    break
            if not batch:
                continue
            try:
                self.queue.note(batch.values())
            except LedgerUnavailable as exc:
                log.error("the ledger cannot be written (%s); %d event(s) will be found by "
                          "a rescan", exc, len(batch))
                self.stop_event.wait(LEDGER_RETRY)
                self.request_scan_all()

    def request_scan(self, folder: WatchConfig, start: Path | None = None) -> None:
        self._scan_requests.put((folder, start))

    def request_scan_all(self) -> None:
        for folder in self.folders.values():
            self._scan_requests.put((folder, None))

    def _scanner(self) -> None:
        while not self.stop_event.is_set():
            request = self._scan_requests.get()
            if request is None:
                return
            folder, start = request
            if folder.label not in self.folders:
                continue
            began = time.monotonic()
            try:
                seen, queued = scan(self.queue, folder, start)
            except LedgerUnavailable as exc:
                log.error("scan of %s stopped: the ledger cannot be written (%s); "
                          "trying again in %.0fs", start or folder.path, exc, LEDGER_RETRY)
                self.stop_event.wait(LEDGER_RETRY)
                self._scan_requests.put(request)
                continue
            log.debug("scanned %s: %d file(s), %d queued, %.2fs", start or folder.path, seen,
                      queued, time.monotonic() - began)

    # --- reload --------------------------------------------------------------

    def _reload(self) -> None:
        """SIGHUP: re-read the config; watch folders come and go, queued work stays."""
        if self.config.source is None:
            return
        try:
            fresh = load_config(self.config.source)
        except Exception as exc:  # a bad edit must not take the running daemon down
            log.error("reload failed, keeping the running config: %s", exc)
            return
        if (fresh.target, fresh.workers, fresh.ledger) != (
            self.config.target, self.config.workers, self.config.ledger
        ):
            log.warning("reload: changes to the target (oss:, s3:, local:), workers: and "
                        "ledger: take effect at restart")
        self.config = fresh
        self.watcher.remove_all()
        self.folders.clear()
        self.folders.update({w.label: w for w in fresh.watch})
        self.writers.set_roots([str(w.path) for w in fresh.watch])
        for folder in fresh.watch:
            self.watcher.add(folder)
        self.request_scan_all()
        log.info("reloaded %s: watching %d folder(s)", fresh.source, len(self.folders))
