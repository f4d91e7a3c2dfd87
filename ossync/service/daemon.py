"""`ossync run`: observer → intake → durable queue → upload workers, plus periodic scans.

Threads start in order (workers, intake, scanner, observer) and stop in reverse.
Signal handlers only set events; the main loop acts on them.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

from ossync.config import Config, WatchConfig, applied, load_config, reload_plan
from ossync.core.clock import zone
from ossync.core.credentials import CredentialSupply
from ossync.core.retry import LEDGER_OPEN
from ossync.core.throttle import Throttle, describe
from ossync.credentials import RotatingCredentials
from ossync.intake.openfiles import OpenWriters
from ossync.intake.watcher import Watcher
from ossync.ledger import Ledger, LedgerUnavailable, WorkQueue
from ossync.service.event_stages import EventStages
from ossync.service.health import Liveness
from ossync.service.holds import Holds, StoreWatch
from ossync.service.intake_stages import IntakeStages
from ossync.service.logsetup import register_secrets
from ossync.service.replica_stages import ReplicaStages
from ossync.service.sdnotify import watchdog_interval
from ossync.service.supervise import Supervisor
from ossync.service.work_stages import Hands, limits_of
from ossync.stores import form_issuer, make_target
from ossync.targets import Target
from ossync.upload.outgoing import release_held
from ossync.upload.sweep import sweep_every
from ossync.upload.worker import Worker

if TYPE_CHECKING:  # the listener's libraries are an extra: imported only when configured
    from ossync.http import HttpService, Meter

log = logging.getLogger("ossync.service.daemon")
STOP_GRACE = 30.0  # seconds in-flight uploads get to finish on shutdown
LEASE_RENEWALS = 5  # renewals per lease period, so one missed renewal never loses a row
SWEEP_INTERVAL = 3600.0  # seconds between sweeps of unfinished multipart uploads
FATAL_GRACE = 30.0  # seconds a stage given up on is tolerated without a systemd watchdog
EXIT_SOFTWARE = 70  # EX_SOFTWARE: the exit status after giving up on a stage


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
        self.supervisor = Supervisor(self.stop_event)  # every stage's thread
        self.exit_status = 0
        self._fatal_since: float | None = None
        self.folders: dict[str, WatchConfig] = {w.label: w for w in config.watch}
        self.heartbeat = time.monotonic()  # the main loop's last turn
        self.refresher: RotatingCredentials | None = None  # keys that rotate, kept fresh
        self._seen_version: int | None = None
        self._next_renewal = 0.0
        self._next_scan = 0.0
        self._ledger_away = False  # the main loop found the ledger away
        self._ledger_trouble = threading.Event()  # a stage found it away
        self.meter: Meter | None = None  # counts for /metrics, with `http:` configured
        self.throttle = Throttle(config.max_bandwidth, zone=zone(config.timezone))
        self.http: HttpService | None = None  # the optional listener
        self.forms = form_issuer(config) if config.uploads else None  # apps' (`uploads:`)
        self.liveness = Liveness(self)  # one verdict for systemd, /healthz and /readyz
        self.holds: Holds | None = None  # why uploads are held (service.held events)
        self._groups = tuple(sorted({w.group for w in config.watch if w.group}))  # served

    # --- lifecycle -----------------------------------------------------------

    def run(self) -> int:
        """Run until SIGTERM/SIGINT (or `stop_event`); returns an exit status."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._on_signal)
            signal.signal(signal.SIGINT, self._on_signal)
            signal.signal(signal.SIGHUP, self._on_signal)
        if not self._open_ledger():
            return 0  # stopped while waiting for the ledger
        try:
            self.target = self._target or make_target(self.config,
                                                      credentials=self._credentials(),
                                                      throttle=self.throttle)
            self._start()
            self._start_http()
            log.info("watching %d folder(s) with %d worker(s); ledger %s",
                     len(self.folders), self.config.workers, self.ledger.location)
            if self.config.max_bandwidth is not None:
                log.info("max_bandwidth: %s", describe(self.config.max_bandwidth))
            if self.on_ready:
                self.on_ready()
            self._main_loop()
        finally:
            self._shutdown()
        return self.exit_status

    def _open_ledger(self) -> bool:
        """Open the ledger and put back what the last stop left in hand; a shared ledger
        that cannot be reached is waited for (back-off); False when a signal stopped it."""
        failures, told = 0, False
        while True:
            try:
                self.ledger: Ledger = Ledger.open(self.config.ledger, exclusive=True,
                                                  host=self.config.host, groups=self._groups)
                try:
                    self._recover()
                except LedgerUnavailable:
                    self.ledger.close()
                    raise
                if told:
                    log.warning("the ledger answers again: starting")
                return True
            except LedgerUnavailable as exc:
                if not told:
                    log.error("%s; waiting for it (retrying, up to every %.0fs)", exc,
                              LEDGER_OPEN.longest)
                    told = True
                failures += 1
                if not LEDGER_OPEN.wait(failures, self.stop_event):
                    return False

    def _recover(self) -> None:
        watch = StoreWatch(self._queue(), self.config.retry_max_delay)  # the store refusing
        self.queue: WorkQueue = watch
        self.holds = Holds(self.ledger, watch, self.credentials_problem,
                           lambda: self._ledger_away or self._ledger_trouble.is_set())
        self.intake = IntakeStages(self.queue, self.folders, self.stop_event,
                             self._ledger_trouble.set)
        interrupted = self.ledger.reset_interrupted()
        self.queue.notify()
        if interrupted:
            log.info("%d upload(s) interrupted by the last stop will be retried", interrupted)
        release_held(self.ledger, self.folders)  # strip_metadata may have changed

    def _credentials(self) -> CredentialSupply | None:
        """The target's keys; a rotating source gets its refresher (keys redacted in logs)."""
        source = self.config.credential_source
        if source is None or not source.rotates:
            return None
        self.refresher = source.refresher(lambda keys: register_secrets(keys.secrets()))
        self.refresher.start()
        return self.refresher

    def credentials_problem(self) -> str | None:
        """Why uploads are held for want of credentials (for STATUS=), or None."""
        return None if self.refresher is None else self.refresher.hold_reason()

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        if signum == signal.SIGHUP:
            self.reload_event.set()
        else:
            self.stop_event.set()
        if hasattr(self, "queue"):
            self.queue.notify()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """Every supervised stage: workers, intake, scanner, sweeper, the ledger listener
        (the observers belong to `watcher`)."""
        return tuple(self.supervisor.threads)

    @property
    def busy_since(self) -> dict[str, float]:
        """Worker thread (a replica's too) → when it took its file in hand (health)."""
        return self.hands.busy_since if hasattr(self, "hands") else {}

    @property
    def busy_files(self) -> dict[str, tuple[str, int]]:
        """Worker thread → (path, size) of the file in hand."""
        return self.hands.busy_files if hasattr(self, "hands") else {}

    def health_problems(self) -> list[str]:
        """Why the daemon is not alive and well (empty when it is): for /healthz."""
        return self.liveness.problems()

    def hold_problems(self) -> list[str]:
        """Why uploads are held now (no valid keys, the ledger away, the store refusing)."""
        return [] if self.holds is None else self.holds.problems()

    def _start(self) -> None:
        self.writers = OpenWriters([str(w.path) for w in self.config.watch])
        self.hands = Hands(self.queue, self.stop_event, self.refresher,
                           self._ledger_trouble.set)
        fanout = self.ledger if self.config.replicas else None  # copies, read once here
        self.workers = [Worker(self.queue, self.ledger, self.target, limits_of(self.config),
                               self.folders, self.writers, self.stop_event, fanout)
                        for _ in range(self.config.workers)]
        spawn = self.supervisor.spawn
        for i, worker in enumerate(self.workers):
            spawn(f"ossync-worker-{i}", functools.partial(self.hands.run, worker))
        self.replicas = ReplicaStages(self.config, self.ledger, self.folders, self.hands,
                                      self._ledger_trouble.set)
        self.replicas.start(spawn, lambda: limits_of(self.config), self.refresher, self.throttle)
        # A crashed intake may have dropped a batch of events, a crashed scanner a walk:
        # a rescan finds whatever they missed.
        intake = self.intake
        spawn("ossync-intake", intake.run_intake, on_restart=intake.request_scan_all)
        spawn("ossync-scanner", intake.run_scanner, on_restart=intake.request_scan_all)
        spawn("ossync-sweeper", functools.partial(sweep_every, SWEEP_INTERVAL, self.stop_event,
                                                  self.ledger, self.target,
                                                  self.replicas.targets))
        if self.ledger.groups:  # other hosts of a group make rows due: hear them at once
            spawn("ossync-ledger-listen", functools.partial(
                self.ledger.listen, self.queue.notify, self.stop_event))
        self.watcher = Watcher(intake.paths, intake.request_scan, intake.request_scan_all)
        self.watcher.start(self.config.watch)
        self.events = EventStages(self.config, self.ledger, self.stop_event, spawn,
                                  None if self.meter is None else self.meter.delivered)
        self.events.start(lambda: self.health_problems() + self.hold_problems())
        intake.request_scan_all()

    def _queue(self) -> WorkQueue:
        """The work queue; with `http:` one that counts every outcome for /metrics."""
        if self.config.http is None:
            return self.ledger
        from ossync.http import Meter, MeteredQueue

        self.meter = Meter()
        return MeteredQueue(self.ledger, meter=self.meter)

    def _start_http(self) -> None:
        """Last to start, first to stop: metrics, health, the URL API, the status page."""
        if self.config.http is None or self.meter is None:
            return
        from ossync.http import HttpService

        uploads = self.config.uploads
        register_secrets([self.config.http.token, *(uploads.tokens if uploads else ())])
        self.http = HttpService(self, self.config.http, self.meter)
        self.http.start()
        if uploads is not None:  # forms given to apps, never confirmed: looked for
            self.supervisor.spawn("ossync-app-uploads", self.http.app_checker(
                self.ledger, self.target, uploads.check_interval, self.stop_event))

    def _main_loop(self) -> None:
        self._next_scan = time.monotonic() + self.config.scan_interval
        while not self.stop_event.is_set():
            self.stop_event.wait(min(1.0, max(self._next_scan - time.monotonic(), 0.0)))
            self.heartbeat = time.monotonic()
            self._chore(self._ledger_chores)
            self._chore(self.holds.turn if self.holds else lambda: None)
            self._chore(self._give_up_if_dead)
            self._chore(self.watcher.watch_returned)
            if self.reload_event.is_set():
                self.reload_event.clear()
                if self.on_reloading:
                    self.on_reloading()
                try:
                    self._chore(self._reload)
                finally:
                    if self.on_reloaded:
                        self.on_reloaded()
            if time.monotonic() >= self._next_scan:
                # new subfolders may have found no inotify watch left; a folder removed
                # and made again is watched again
                self._chore(self.watcher.check_watch_limits)
                self.intake.request_scan_all()
                self._next_scan = time.monotonic() + self.config.scan_interval

    def _chore(self, chore: Callable[[], None]) -> None:
        """One chore of the main loop; a bug in one must not stop the loop (whose turns
        are the daemon's heartbeat)."""
        try:
            chore()
        except Exception:
            log.exception("unexpected error in the main loop (%s); carrying on",
                          getattr(chore, "__name__", chore))

    def _give_up_if_dead(self) -> None:
        """A stage given up on (or a dead observer) with no systemd watchdog to notice:
        exit, so that whatever started the daemon starts it again, rather than run on
        doing part of the job. Under a watchdog, the stopped pings do that."""
        given_up = self.supervisor.given_up()
        if not self.watcher.alive():
            given_up.append("a file-system observer")
        if not given_up or watchdog_interval():
            self._fatal_since = None
            return
        now = time.monotonic()
        if self._fatal_since is None:
            self._fatal_since = now
        elif now - self._fatal_since >= FATAL_GRACE:
            log.critical("%s died and will not come back; exiting with status %d so that a "
                         "supervisor (systemd, docker) starts ossync again",
                         ", ".join(given_up), EXIT_SOFTWARE)
            self.exit_status = EXIT_SOFTWARE
            self.stop_event.set()

    def _ledger_chores(self) -> None:
        """Wake the workers when another process wrote (`ossync retry`), and renew the
        leases on the rows this host holds; a ledger that is away is tried next turn."""
        now = time.monotonic()
        try:
            version = self.ledger.data_version()
            if version != self._seen_version:  # (SQLite: any other process's commit)
                self._seen_version = version
                self.queue.notify()
                self.ledger.bell.ring()  # events `ossync put` recorded, say
            if now >= self._next_renewal:
                self.ledger.renew_leases()
                self._next_renewal = now + self.ledger.lease / LEASE_RENEWALS
            if self._ledger_away or self._ledger_trouble.is_set():
                self._after_outage()
        except LedgerUnavailable as exc:
            if not self._ledger_away:
                log.error("the ledger cannot be reached (%s); watching goes on, uploads "
                          "wait until it is back", exc)
                self._ledger_away = True

    def _after_outage(self) -> None:
        """The ledger answers again: rows a claim took while its answer was lost (held by
        no worker) go back to the queue, and every idle worker wakes."""
        if self._ledger_away:
            log.warning("the ledger answers again")
        self._ledger_away = False
        self._ledger_trouble.clear()
        back = self.ledger.reset_interrupted(keep=self.hands.in_hand(),
                                             keep_copies=self.replicas.in_hand())
        if back:
            log.warning("%d row(s) claimed while the ledger was away go back to the queue",
                        back)
        self.queue.notify()

    def _shutdown(self) -> None:
        log.info("stopping: letting in-flight uploads finish (up to %.0fs)", STOP_GRACE)
        self.stop_event.set()
        if hasattr(self, "ledger"):
            self.ledger.bell.ring()  # senders and long polls waiting for events see the stop
        if self.http is not None:
            self.http.stop()
        if hasattr(self, "watcher"):
            self.watcher.stop()
        if hasattr(self, "intake"):
            self.intake.close()
        if hasattr(self, "queue"):
            self.queue.notify()
        stuck = self.supervisor.join(time.monotonic() + STOP_GRACE)
        if stuck:
            log.warning("stopped with %s still busy; their files stay queued", ", ".join(stuck))
        if hasattr(self, "target") and self._target is None:
            self.target.close()
        if hasattr(self, "replicas"):
            self.replicas.close()
        if self.refresher is not None:
            self.refresher.stop()
        if not stuck:
            self.ledger.close()

    # --- reload --------------------------------------------------------------

    def _reload(self) -> None:
        """SIGHUP: re-read the config, apply every key that can change while running, and
        name every changed key that waits for a restart; queued work stays."""
        if self.config.source is None:
            return
        try:
            fresh = load_config(self.config.source)
        except Exception as exc:  # a bad edit must not take the running daemon down
            log.error("reload failed, keeping the running config: %s", exc)
            return
        plan = reload_plan(self.config, fresh)
        if plan.restart:
            log.warning("reload: changed, needs a restart: %s", ", ".join(plan.restart))
        if fresh.max_bandwidth != self.config.max_bandwidth or (
                fresh.timezone != self.config.timezone):
            self.throttle.set_schedule(fresh.max_bandwidth, zone(fresh.timezone))
            log.info("max_bandwidth is now %s", describe(fresh.max_bandwidth))
        if fresh.scan_interval != self.config.scan_interval:
            self._next_scan = time.monotonic() + fresh.scan_interval
        self.config = applied(self.config, fresh)
        for worker in self.workers:
            worker.limits = limits_of(self.config)
        self.replicas.set_limits(limits_of(self.config))
        self.watcher.remove_all()
        before = dict(self.folders)
        self.folders.clear()
        self.folders.update({w.label: w for w in self.config.watch})
        release_held(self.ledger, self.folders, before)  # a changed strip_metadata
        self.writers.set_roots([str(w.path) for w in self.config.watch])
        for folder in self.config.watch:
            self.watcher.add(folder)
        self.intake.request_scan_all()
        log.info("reloaded %s: watching %d folder(s)%s", fresh.source, len(self.folders),
                 f"; applied: {', '.join(plan.live)}" if plan.live else "")
