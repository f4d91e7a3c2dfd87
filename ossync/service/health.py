"""The daemon's health, told to systemd: READY=1 once up, STATUS= lines with queue and
upload counts, STOPPING=1 on shutdown, and WATCHDOG=1 pings *only while healthy*.

Healthy means: every observer thread and every daemon thread (workers, intake,
scanner) is alive, the main loop turns, and no worker is stuck. A worker is
stuck when it has been busy on one file without making progress for far longer
than its own request timeouts allow: progress is the bytes its thread reads and
writes (`/proc/self/task/TID/io`), so a 5 GB upload over a slow line stays
healthy as long as bytes flow. An OSS outage is not a wedge: workers back off
between attempts, so they are not busy and pings go on. When pings stop,
systemd's `WatchdogSec=` kills the daemon and `Restart=on-failure` starts it again.
"""

from __future__ import annotations

import faulthandler
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sized
from dataclasses import dataclass
from typing import Protocol

from ossync.core import failpoints
from ossync.ledger import LedgerUnavailable
from ossync.service.sdnotify import Notifier, watchdog_interval

log = logging.getLogger("ossync.service.health")
STATUS_EVERY = 5.0  # seconds between STATUS= updates
MAIN_LOOP_STALL = 120.0  # the main loop turns every second; a reload of a huge tree takes longer
STALL_FACTOR = 4  # a row costs at most a few requests (POST, HEAD, DELETE) without file I/O
MIN_STALL = 5.0
SLOW_RATE = 64 * 1024  # bytes/s assumed for a file's upload when progress cannot be measured


class _Timeouts(Protocol):
    @property
    def http_timeouts(self) -> tuple[float, float]: ...


class _Alive(Protocol):
    def alive(self) -> bool: ...


class _Counts(Protocol):
    def counts(self) -> Mapping[str, int]: ...


class _Refresher(Protocol):
    def alive(self) -> bool: ...


class _Stages(Protocol):
    def problems(self) -> list[str]: ...  # crashed, restarting or given-up stages


class Watched(Protocol):
    """What the health monitor reads of the daemon (`ossync.service.daemon.Daemon`),
    and the three callbacks it sets."""

    stop_event: threading.Event
    on_ready: Callable[[], None] | None
    on_reloading: Callable[[], None] | None
    on_reloaded: Callable[[], None] | None
    heartbeat: float  # monotonic time of the main loop's last turn

    @property
    def config(self) -> _Timeouts: ...
    @property
    def threads(self) -> tuple[threading.Thread, ...]: ...  # workers, intake, scanner
    @property
    def supervisor(self) -> _Stages: ...
    @property
    def refresher(self) -> _Refresher | None: ...  # rotating keys' refresher, if any
    @property
    def liveness(self) -> Liveness: ...
    @property
    def busy_since(self) -> Mapping[str, float]: ...  # worker → when it took its file
    @property
    def busy_files(self) -> Mapping[str, tuple[str, int]]: ...  # worker → (path, size)
    @property
    def folders(self) -> Sized: ...  # the watch folders (counted only)
    @property
    def watcher(self) -> _Alive: ...  # False once an observer thread has died
    @property
    def ledger(self) -> _Counts: ...  # rows per state
    def credentials_problem(self) -> str | None: ...  # why uploads are held, if they are


def stall_limit(connect_timeout: float, read_timeout: float) -> float:
    """Seconds a busy worker may go without reading or writing a byte before it is stuck.

    Hashing and the streamed POST read the file in small blocks, and each request
    waits at most connect + read timeout for the network, so only a wedged thread
    goes this long without I/O, whatever the file's size.
    """
    return max(STALL_FACTOR * (connect_timeout + read_timeout), MIN_STALL)


def thread_io(thread: threading.Thread) -> int | None:
    """Bytes the thread has read and written so far (rchar + wchar), or None if unknown."""
    if thread.native_id is None:
        return None
    try:
        with open(f"/proc/self/task/{thread.native_id}/io", "rb") as fh:
            fields = dict(line.split(b":", 1) for line in fh.read().splitlines() if b":" in line)
        return int(fields[b"rchar"]) + int(fields[b"wchar"])
    except (OSError, KeyError, ValueError):
        return None


@dataclass(frozen=True)
class _Seen:
    since: float  # when the worker took its current file
    counter: int | None  # its thread's I/O counter at the last look
    progress_at: float  # when that counter last moved (or `since`)


class ProgressTracker:
    """Which busy workers have gone too long without progress."""

    def __init__(self, limit: float, read_io: Callable[[threading.Thread], int | None] = thread_io,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.read_io = read_io
        self.clock = clock
        self._seen: dict[str, _Seen] = {}

    def _io(self, worker: threading.Thread) -> int | None:
        """The worker's I/O counter, plus its part threads' (`<worker>-part_N`, sending a
        big file in parallel parts while the worker waits for them)."""
        counter = self.read_io(worker)
        prefix = f"{worker.name}-part"
        for helper in threading.enumerate():
            if counter is not None and helper.name.startswith(prefix):
                counter += self.read_io(helper) or 0
        return counter

    def stuck(self, busy: Mapping[str, float], files: Mapping[str, tuple[str, int]],
              threads: Mapping[str, threading.Thread]) -> list[str]:
        """`busy`: worker → when it took its file; `files`: worker → (path, size)."""
        now = self.clock()
        problems = []
        for name in set(self._seen) - set(busy):
            del self._seen[name]
        for name, since in list(busy.items()):
            thread = threads.get(name)
            counter = self._io(thread) if thread is not None else None
            seen = self._seen.get(name)
            if seen is None or seen.since != since:
                seen = _Seen(since, counter, since)
            elif counter is not None and counter != seen.counter:
                seen = _Seen(since, counter, now)
            self._seen[name] = seen
            path, size = files.get(name, ("?", 0))
            limit = self.limit
            if counter is None:  # no progress counter: allow the file's size at a slow rate
                limit += size / SLOW_RATE
            idle = now - seen.progress_at
            if idle > limit:
                problems.append(f"{name} has made no progress on {path} for {idle:.0f}s "
                                f"(limit {limit:.0f}s)")
        return problems


class Liveness:
    """Is the daemon alive and making progress? One answer for systemd (`HealthMonitor`),
    `/healthz` and `/readyz`: every stage runs (none crashed, restarting or given up),
    every observer thread lives, the main loop turns, no worker is stuck, and rotating
    keys have their refresher."""

    def __init__(self, daemon: Watched) -> None:
        self.daemon = daemon
        self.progress = ProgressTracker(stall_limit(*daemon.config.http_timeouts))
        self._lock = threading.Lock()  # the progress tracker is read by several threads

    def problems(self) -> list[str]:
        daemon = self.daemon
        with self._lock:
            found = []
            if not daemon.watcher.alive():
                found.append("a file-system observer thread has died")
            found += daemon.supervisor.problems()
            refresher = daemon.refresher
            if refresher is not None and not refresher.alive():
                found.append("the credentials refresher thread has died")
            stalled = time.monotonic() - daemon.heartbeat
            if stalled > MAIN_LOOP_STALL:
                found.append(f"the main loop has not turned for {stalled:.0f}s")
            threads = {t.name: t for t in daemon.threads}
            found += self.progress.stuck(dict(daemon.busy_since), dict(daemon.busy_files),
                                         threads)
            return found


class HealthMonitor:
    """A thread that reports to systemd; attach it before `Daemon.run()`, stop it after."""

    def __init__(self, daemon: Watched, notifier: Notifier,
                 ping_every: float | None = None) -> None:
        self.daemon = daemon
        self.notifier = notifier
        self.ping_every = ping_every if ping_every is not None else watchdog_interval()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._problems: list[str] = []
        self._uploaded_at_start: int | None = None
        self._excepthook = threading.excepthook

    def attach(self) -> None:
        self.daemon.on_ready = self.ready
        self.daemon.on_reloading = self.reloading
        self.daemon.on_reloaded = self.reloaded
        threading.excepthook = log_thread_death

    # --- events from the daemon ----------------------------------------------

    def ready(self) -> None:
        """Observer, workers and the catch-up scan are up: tell systemd, start pinging."""
        failpoints.announce()  # a warning if OSSYNC_FAILPOINTS arms any
        if not self.notifier.enabled or self._thread is not None:
            return
        if self.ping_every and not faulthandler.is_enabled():
            faulthandler.enable(all_threads=True)  # the watchdog's SIGABRT prints every stack
        self.notifier.ready(self.status_text())
        self._thread = threading.Thread(target=self._run, name="ossync-health", daemon=True)
        self._thread.start()

    def reloading(self) -> None:
        self.notifier.reloading()

    def reloaded(self) -> None:
        self.notifier.ready(self.status_text())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.notifier.close()
        threading.excepthook = self._excepthook

    # --- the loop --------------------------------------------------------------

    def _run(self) -> None:
        tick = min(self.ping_every or STATUS_EVERY, STATUS_EVERY)
        next_status = time.monotonic()
        next_ping = next_status if self.ping_every else math.inf
        while not self.daemon.stop_event.is_set() and not self._stop.is_set():
            healthy, changed = self.check()
            now = time.monotonic()
            if healthy and self.ping_every and now >= next_ping:
                self.notifier.watchdog()
                next_ping = now + self.ping_every
            if changed or now >= next_status:
                self.notifier.status(self.status_text())
                next_status = now + STATUS_EVERY
            # Healthy: wake for the next ping or status; unhealthy: look again soon.
            due = min(next_status, next_ping if healthy else now + tick)
            self.daemon.stop_event.wait(max(due - now, 0.0))
        self.notifier.stopping("stopping: letting in-flight uploads finish")
        # Shutdown is bounded (STOP_GRACE); keep the watchdog fed while it lasts.
        while self.ping_every and not self._stop.wait(self.ping_every):
            self.notifier.watchdog()

    def check(self) -> tuple[bool, bool]:
        """(healthy, verdict changed); a change of verdict is logged once."""
        problems = self.problems()
        changed = bool(problems) != bool(self._problems)
        if problems and changed:
            log.error("unhealthy, watchdog pings stopped: %s", "; ".join(problems))
        elif changed:
            log.warning("healthy again; watchdog pings resumed")
        self._problems = problems
        return not problems, changed

    def problems(self) -> list[str]:
        return self.daemon.liveness.problems()

    def status_text(self) -> str:
        if self._problems:
            return "unhealthy: " + "; ".join(self._problems)
        folders = f"watching {len(self.daemon.folders)} folder(s)"
        held = self.daemon.credentials_problem()
        if held:
            folders += f"; uploads held, {held}"
        try:
            counts = self.daemon.ledger.counts()
        except LedgerUnavailable:
            return folders
        uploaded = counts.get("uploaded", 0)
        if self._uploaded_at_start is None:
            self._uploaded_at_start = uploaded
        return (f"{counts.get('pending', 0)} queued, {counts.get('uploading', 0)} uploading, "
                f"{uploaded} uploaded ({uploaded - self._uploaded_at_start} since start), "
                f"{counts.get('failed', 0)} failed; {folders}")


def log_thread_death(args: threading.ExceptHookArgs) -> None:
    """A thread that dies of an exception is logged (at critical, so with its priority
    in the journal); the health check then stops the watchdog pings."""
    if issubclass(args.exc_type, SystemExit) or args.exc_value is None:
        return
    name = args.thread.name if args.thread is not None else "?"
    log.critical("thread %s died", name, exc_info=args.exc_value)

