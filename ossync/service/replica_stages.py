"""The replicas' stages: for each `replicas:` entry a target of its own and workers of its
own (`ossync-copy-NAME-N`), taking (file, destination) copies from the ledger's lane of
that replica, and one `ossync-backfill` stage that fills in a replica added to the config
from what the ledger knows was uploaded.

A replica's workers wait in their own lane and back off on their own copies' rows, so a
replica that is down or refusing never holds up the primary's workers or another
replica's. Copies a replica no longer configured had are forgotten at start (nothing in
any store is touched).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

from ossync.config import Config, ReplicaConfig, WatchConfig
from ossync.core.clock import zone
from ossync.core.credentials import CredentialSupply
from ossync.core.throttle import Share, Throttle
from ossync.credentials import RotatingCredentials
from ossync.ledger import CopyRow, Deferred, Ledger, LedgerUnavailable
from ossync.service.logsetup import register_secrets
from ossync.service.work_stages import Hands
from ossync.stores import make_replica_target, metadata_limit
from ossync.targets import Target
from ossync.upload.replica import CopyWorker, Replica
from ossync.upload.worker import Limits

log = logging.getLogger("ossync.service.replicas")
LEDGER_RETRY = 5.0
INTERNAL_ERROR_DELAY = 60.0
BACKFILL_BATCH = 200  # copies a backfill adds in one transaction
BACKFILL_HIGH_WATER = 1000  # a replica's backlog above this pauses its backfill
BACKFILL_PAUSE = 1.0  # seconds between looks while every backfill is paused

Spawn = Callable[..., threading.Thread]


class ReplicaStages:
    """Every replica's target and workers, the copies in hand, and the backfill."""

    def __init__(self, config: Config, ledger: Ledger, folders: dict[str, WatchConfig],
                 hands: Hands, on_ledger_trouble: Callable[[], None]) -> None:
        self.config = config
        self.ledger = ledger
        self.folders = folders
        self.stop = hands.stop
        self.on_ledger_trouble = on_ledger_trouble
        self.targets: dict[str, Target] = {}
        self.workers: list[CopyWorker] = []
        self.refreshers: list[RotatingCredentials] = []
        # shared with the primary's workers: what the health check reads
        self.busy_since, self.busy_files = hands.busy_since, hands.busy_files
        self._held: set[int] = set()
        self._lock = threading.Lock()
        self._fill = threading.Event()  # set: run the backfill (at start, after a reload)
        self._fill.set()

    def in_hand(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def start(self, spawn: Spawn, limits: Callable[[], Limits],
              primary_keys: CredentialSupply | None, host_throttle: Throttle) -> None:
        forgotten = self.ledger.forget_copies([r.name for r in self.config.replicas])
        for name, count in sorted(forgotten.items()):
            log.warning("replica %s is no longer configured: its %d cop(ies) forgotten (its "
                        "store is left as it is)", name, count)
        if not self.config.replicas:
            return
        for replica in self.config.replicas:
            target = make_replica_target(
                self.config, replica, credentials=self._keys(replica, primary_keys),
                throttle=self._throttle(replica, host_throttle))
            self.targets[replica.name] = target
            spec = Replica(replica.name, replica.bucket, replica.prefix, replica.key_name,
                           replica.objects, metadata_limit(replica))
            for i in range(replica.workers):
                worker = CopyWorker(self.ledger, self.ledger, target, spec, limits(),
                                    self.folders, self.stop)
                self.workers.append(worker)
                spawn(f"ossync-copy-{replica.name}-{i}", functools.partial(self.run, worker))
            log.info("replica %s: %d worker(s) copying to %s", replica.name, replica.workers,
                     replica.bucket)
        spawn("ossync-backfill", self.run_backfill)

    def _keys(self, replica: ReplicaConfig, primary_keys: CredentialSupply | None
              ) -> CredentialSupply | None:
        """The primary's refresher for keys taken from the primary; a refresher of its own
        for a rotating source of the replica's own; None: fixed keys (the registry's)."""
        source = replica.credential_source
        if source is None or not source.rotates:
            if replica.credentials is not None:
                register_secrets(replica.credentials.secrets())
            return None
        if source is self.config.credential_source:
            return primary_keys
        refresher = source.refresher(lambda keys: register_secrets(keys.secrets()))
        refresher.start()
        self.refreshers.append(refresher)
        return refresher

    def _throttle(self, replica: ReplicaConfig, host: Throttle) -> Throttle:
        if replica.max_bandwidth is None:
            return host
        return Share(host, replica.max_bandwidth, zone=zone(self.config.timezone))

    def set_limits(self, limits: Limits) -> None:
        """After a reload: every worker's limits, and the backfill runs again (a folder may
        copy to a replica it did not copy to)."""
        for worker in self.workers:
            worker.limits = limits
        self._fill.set()
        self.ledger.notify()

    # --- the workers ---------------------------------------------------------------

    def run(self, worker: CopyWorker) -> None:
        """One replica worker's stage body: until stop."""
        name = worker.replica.name
        while not self.stop.is_set():
            try:
                copy = self.ledger.next_copy(name, self.stop)
            except LedgerUnavailable as exc:
                log.error("the ledger cannot be used (%s); %s's copies wait %.0fs", exc, name,
                          LEDGER_RETRY)
                self.on_ledger_trouble()
                self.stop.wait(LEDGER_RETRY)
                continue
            if copy is None:
                continue
            with self._lock:
                self._held.add(copy.id)
            try:
                self._process(worker, copy)
            finally:
                with self._lock:
                    self._held.discard(copy.id)

    def _process(self, worker: CopyWorker, copy: CopyRow) -> None:
        thread = threading.current_thread().name
        self.busy_since[thread] = time.monotonic()
        self.busy_files[thread] = (copy.path, copy.size)
        put_back: Deferred | None = None
        try:
            worker.process(copy)
        except LedgerUnavailable as exc:
            log.error("the ledger cannot be used (%s) while a copy of %s was in hand", exc,
                      copy.path)
            self.on_ledger_trouble()
            put_back = Deferred(0.0)
        except Exception:  # a bug must cost one copy, never the worker
            log.exception("unexpected error copying %s to %s; it stays queued", copy.path,
                          copy.destination)
            put_back = Deferred(INTERNAL_ERROR_DELAY, error="internal error (see log)",
                                count_attempt=True)
        finally:
            self.busy_since.pop(thread, None)
            self.busy_files.pop(thread, None)
        while put_back is not None and not self.stop.is_set():
            try:
                self.ledger.settle_copy(copy, put_back)
                return
            except LedgerUnavailable:
                self.stop.wait(LEDGER_RETRY)

    # --- the backfill --------------------------------------------------------------

    def run_backfill(self) -> None:
        """Fill in each replica from the ledger's uploads, a batch at a time and never far
        ahead of its workers (a replica that is down is not buried in rows); again after
        each reload and every `scan_interval` (files `ossync put` recorded meanwhile).
        Resumable by nature: a file with a copy is never added again."""
        due = time.monotonic()
        while not self.stop.is_set():
            if not self._fill.wait(BACKFILL_PAUSE) and time.monotonic() < due:
                continue
            self._fill.clear()
            due = time.monotonic() + self.config.scan_interval
            try:
                self._backfill()
            except LedgerUnavailable as exc:
                log.warning("the backfill of the replicas waits for the ledger: %s", exc)
                self._fill.set()
                self.stop.wait(LEDGER_RETRY)

    def _backfill(self) -> None:
        after = {r.name: 0 for r in self.config.replicas}
        added = dict.fromkeys(after, 0)
        while after and not self.stop.is_set():
            paused = 0
            for name in list(after):
                if self.ledger.copy_backlog(name) > BACKFILL_HIGH_WATER:
                    paused += 1
                    continue
                folders = [w.label for w in list(self.folders.values()) if name in w.replicas]
                count, after[name] = self.ledger.backfill(name, folders, after=after[name],
                                                          limit=BACKFILL_BATCH)
                added[name] += count
                if count == 0:
                    del after[name]
            if after and paused == len(after):
                self.stop.wait(BACKFILL_PAUSE)
        for name, count in added.items():
            if count:
                log.info("replica %s: %d uploaded file(s) queued to be copied", name, count)

    def close(self) -> None:
        for target in self.targets.values():
            target.close()
        for refresher in self.refreshers:
            refresher.stop()
