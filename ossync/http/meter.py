"""What the daemon's threads did, counted: `MeteredQueue` wraps the ledger's queue with a
`Meter` watching every outcome go by, so no worker, scanner or intake code knows about
metrics. The counters live in the meter's own registry (never the
global one); labels are bounded: folder labels come from the config, result names
from a fixed list, and error codes are capped (`MAX_CODES`, then `other`).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

from prometheus_client import CollectorRegistry, Counter, Histogram

from ossync.ledger import (
    Aliased,
    Deferred,
    FileRow,
    LedgerUnavailable,
    Outcome,
    Settled,
    Sighting,
    Upload,
    Uploaded,
    WorkQueue,
)
from ossync.ledger.wrapping import QueueWrapper

_P = ParamSpec("_P")
_T = TypeVar("_T")

RESULTS = ("uploaded", "deduplicated", "failed", "skipped", "vanished")
# Settled → verified: small photos on a LAN take tenths of a second, RAW files over a
# slow uplink minutes.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
MAX_CODES = 40  # distinct error-code labels; any further code is counted as `other`
# How event deliveries went: sent, failed (an attempt refused or not answered), given_up
DELIVERY_RESULTS = ("sent", "failed", "given_up")
_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


class Meter:
    """The daemon's counters, and the few facts readiness needs (when the target last
    answered, whether the last ledger write went through)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.seen = Counter("ossync_files_seen", "Files sighted (events and scans), by folder",
                            ["folder"], registry=r)
        self.queued = Counter("ossync_files_queued", "Files (re)queued for upload: new, or "
                              "changed since last seen", ["folder"], registry=r)
        self.results = Counter("ossync_uploads", "Rows settled, by folder and result "
                               f"({', '.join(RESULTS)})", ["folder", "result"], registry=r)
        self.sent = Counter("ossync_upload_bytes", "Bytes of verified uploads",
                            ["folder"], unit="bytes", registry=r)
        self.latency = Histogram("ossync_upload_duration_seconds", "From a worker finding the "
                                 "file settled to the object verified and recorded",
                                 ["folder"], buckets=LATENCY_BUCKETS, registry=r)
        self.retries = Counter("ossync_retries", "Failed attempts that will be retried, by "
                               "error code", ["code"], registry=r)
        self.ledger_errors = Counter("ossync_ledger_write_errors", "Queue writes the ledger "
                                     "refused (disk full, locked, unreachable)", registry=r)
        self.deliveries = Counter("ossync_event_deliveries", "Event deliveries by this host, "
                                  "by endpoint (webhook name, on_upload) and result: sent, "
                                  "failed (an attempt refused or unanswered), given_up "
                                  "(events)", ["endpoint", "result"], registry=r)
        self._codes: set[str] = set()
        self._lock = threading.Lock()
        self.target_answered: float | None = None  # monotonic: last verified upload
        self.target_failed: float | None = None  # monotonic: last retryable failure
        self.ledger_problem: str | None = None  # the last queue write's error, until one works

    def folder(self, label: str) -> None:
        """Start a folder's series at zero, so rate() sees its first increment."""
        self.seen.labels(label)
        self.queued.labels(label)
        self.sent.labels(label)
        self.latency.labels(label)
        for result in RESULTS:
            self.results.labels(label, result)

    def endpoint(self, name: str) -> None:
        """Start a delivery endpoint's series at zero (names come from the config)."""
        for result in DELIVERY_RESULTS:
            self.deliveries.labels(name, result)

    def delivered(self, endpoint: str, result: str, count: int) -> None:
        """A sender's tally (ossync.outbox.sender.Tally)."""
        self.deliveries.labels(endpoint, result).inc(count)

    def code(self, code: str | None) -> str:
        """A bounded label for an error code."""
        if not code or not _CODE.match(code):
            return "other"
        with self._lock:
            if code not in self._codes and len(self._codes) >= MAX_CODES:
                return "other"
            self._codes.add(code)
        return code


class MeteredQueue(QueueWrapper):
    """The daemon's queue, counting as it goes (`ossync run` with `http:` configured): a
    wrapper around the ledger's `Intake` and `Queue`, which it implements in turn."""

    def __init__(self, inner: WorkQueue, *, meter: Meter) -> None:
        super().__init__(inner)
        self.meter = meter
        self._claimed: dict[int, float] = {}  # row id → monotonic time of its claim

    def _wrote(self) -> None:
        self.meter.ledger_problem = None

    def _refused(self, exc: LedgerUnavailable) -> None:
        self.meter.ledger_errors.inc()
        self.meter.ledger_problem = str(exc)

    # --- Intake ----------------------------------------------------------------

    def note(self, sightings: Iterable[Sighting]) -> int:
        by_folder: dict[str, list[Sighting]] = {}
        for sighting in sightings:
            by_folder.setdefault(sighting.folder, []).append(sighting)
        total = 0
        for folder, group in by_folder.items():  # one transaction per folder: its count
            queued = self._write(self.inner.note, group)
            self.meter.seen.labels(folder).inc(len(group))
            self.meter.queued.labels(folder).inc(queued)
            total += queued
        return total

    # --- Queue -------------------------------------------------------------------

    def next_row(self, stop: threading.Event) -> FileRow | None:
        row = self.inner.next_row(stop)
        if row is not None:
            self._claimed[row.id] = time.monotonic()
        return row

    def intend(self, row: FileRow, *, sha256: str, key: str,
               tagging: str | None = None) -> None:
        self._write(self.inner.intend, row, sha256=sha256, key=key, tagging=tagging)

    def settle(self, row: FileRow, outcome: Outcome) -> Upload | None:
        began = self._claimed.pop(row.id, None)
        upload = self._write(self.inner.settle, row, outcome)
        self._count(row, outcome, began)
        return upload

    def _count(self, row: FileRow, outcome: Outcome, began: float | None) -> None:
        meter = self.meter
        if isinstance(outcome, Deferred):
            if outcome.count_attempt:
                meter.retries.labels(meter.code(outcome.code)).inc()
                meter.target_failed = time.monotonic()
        elif isinstance(outcome, Aliased):
            meter.results.labels(row.folder, "deduplicated").inc()
        elif isinstance(outcome, Uploaded):
            now = time.monotonic()
            meter.target_answered = now
            meter.results.labels(row.folder, "uploaded").inc()
            if not outcome.result.already_present:
                meter.sent.labels(row.folder).inc(outcome.result.size)
            if began is not None:
                meter.latency.labels(row.folder).observe(now - began)
        elif isinstance(outcome, Settled):
            if outcome.state in RESULTS:
                meter.results.labels(row.folder, outcome.state).inc()
        else:
            meter.results.labels(row.folder, "vanished").inc()

    def _write(self, call: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            result = call(*args, **kwargs)
        except LedgerUnavailable as exc:
            self._refused(exc)
            raise
        self._wrote()
        return result
