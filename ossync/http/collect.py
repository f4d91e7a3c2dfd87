"""The gauges read at scrape time: the ledger's queue and size, the watch folders, the
credentials' expiry. Counters of what happened are the `Meter`'s; this collector adds
what *is*, read when Prometheus asks (one status query of the ledger per scrape)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from importlib import metadata
from pathlib import Path

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ossync.config.events import cursor_name
from ossync.http.meter import Meter
from ossync.http.view import FOLDER_STATES, DaemonView, credentials_expiry, folder_states
from ossync.ledger import STATES, Delivery, Ledger, LedgerError


def version() -> str:
    try:
        return metadata.version("ossync")
    except metadata.PackageNotFoundError:  # run from a source tree that was not installed
        return "unknown"


def _epoch(text: str | None) -> float | None:
    """Seconds since the epoch of a ledger time (RFC 3339 UTC text)."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def wall_time(monotonic: float | None) -> float | None:
    return None if monotonic is None else time.time() - (time.monotonic() - monotonic)


def ledger_bytes(location: Path | str) -> int | None:
    """A SQLite ledger's size on disk (with its WAL); None for a PostgreSQL URL."""
    if not isinstance(location, Path):
        return None
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += location.with_name(location.name + suffix).stat().st_size
        except OSError:
            if not suffix:
                return None
    return total


def _gauge(name: str, doc: str, value: float | None, unit: str = "") -> GaugeMetricFamily:
    """A gauge with one sample, or none when the value is unknown."""
    family = GaugeMetricFamily(name, doc, unit=unit)
    if value is not None:
        family.add_metric([], value)
    return family


class DaemonCollector:
    """Registered in the meter's registry beside its counters."""

    def __init__(self, daemon: DaemonView, ledger: Ledger, meter: Meter) -> None:
        self.daemon = daemon
        self.ledger = ledger  # the listener's own read-only handle
        self.meter = meter

    def describe(self) -> list[Metric]:
        return []  # names are checked by collect(); nothing to reserve up front

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily("ossync_build_info", "The running ossync", labels=["version"])
        info.add_metric([version()], 1)
        yield info
        yield from self._ledger()
        yield from self._deliveries()
        yield from self._copies()
        yield from self._folders()
        daemon = self.daemon
        yield _gauge("ossync_workers", "Upload workers", daemon.config.workers)
        yield _gauge("ossync_workers_busy", "Workers busy on a file", len(daemon.busy_since))
        overflows = CounterMetricFamily("ossync_inotify_overflows", "Kernel event queue "
                                        "overflows (each one triggers a rescan)")
        overflows.add_metric([], daemon.watcher.overflows)
        yield overflows
        expiry = credentials_expiry(daemon)
        yield _gauge("ossync_credentials_expiry_timestamp_seconds", "When the current "
                     "credentials expire (absent: they do not say, or do not expire)",
                     None if expiry is None else expiry.timestamp())
        yield _gauge("ossync_target_last_answer_timestamp_seconds", "When the target last "
                     "stored an upload or answered a readiness probe",
                     wall_time(self.meter.target_answered))

    def _ledger(self) -> Iterator[Metric]:
        try:
            status = self.ledger.status()
        except LedgerError:
            yield _gauge("ossync_ledger_up", "1 when the ledger answered this scrape", 0)
            return
        yield _gauge("ossync_ledger_up", "1 when the ledger answered this scrape", 1)
        files = GaugeMetricFamily("ossync_ledger_files", "Rows in the ledger by state "
                                  "(all hosts of a shared ledger)", labels=["state"])
        counts = {"pending": status.queued, "uploading": status.in_progress,
                  "uploaded": status.uploaded_files, "failed": status.failed,
                  "skipped": status.skipped}
        for state in STATES:
            files.add_metric([state], counts.get(state, 0))
        yield files
        yield _gauge("ossync_queue_depth", "Files waiting for upload (pending)",
                     status.queued)
        oldest = _epoch(status.oldest_pending_since)
        yield _gauge("ossync_queue_oldest_pending_age_seconds", "Age of the oldest file "
                     "waiting or uploading (0: none)",
                     0.0 if oldest is None else max(time.time() - oldest, 0.0))
        yield _gauge("ossync_ledger_objects", "Objects recorded in the ledger",
                     status.uploads_total)
        yield _gauge("ossync_ledger_size_bytes", "Size of the SQLite ledger file and its WAL "
                     "(absent for PostgreSQL)", ledger_bytes(self.daemon.config.ledger))
        yield _gauge("ossync_last_upload_timestamp_seconds", "When the last upload was "
                     "recorded (absent: none yet)", _epoch(status.last_upload_at))

    def _deliveries(self) -> Iterator[Metric]:
        """Per endpoint of the config: the events waiting for it and the oldest one's age;
        and the last event's id (where `/v1/events?since=` catches up to)."""
        backlog = GaugeMetricFamily("ossync_event_backlog", "Events not yet delivered to an "
                                    "endpoint (every host's, on a shared ledger)",
                                    labels=["endpoint"])
        oldest = GaugeMetricFamily("ossync_event_oldest_pending_age_seconds", "Age of the "
                                   "oldest event not yet delivered to an endpoint (0: none)",
                                   labels=["endpoint"])
        try:
            rows: dict[str, Delivery] | None = {d.endpoint: d for d in self.ledger.deliveries()}
            last: float | None = self.ledger.last_event_id()
        except LedgerError:  # no samples: unknown is not zero (ossync_ledger_up says why)
            rows, last = None, None
        now = time.time()
        config = self.daemon.config
        for name in config.endpoints:
            if rows is None:
                break
            row = rows.get(cursor_name(name, config.host))
            backlog.add_metric([name], 0 if row is None else row.pending)
            since = None if row is None else _epoch(row.oldest_pending_at)
            oldest.add_metric([name], 0.0 if since is None else max(now - since, 0.0))
        yield backlog
        yield oldest
        yield _gauge("ossync_event_last_id", "The id of the last event recorded", last)

    def _copies(self) -> Iterator[Metric]:
        """Per replica of the config: its copies by state, and the oldest one waiting."""
        names = [r.name for r in self.daemon.config.replicas]
        if not names:
            return
        copies = GaugeMetricFamily("ossync_copies", "Copies to a replica by state (all hosts "
                                   "of a shared ledger)", labels=["destination", "state"])
        oldest = GaugeMetricFamily("ossync_copy_oldest_pending_age_seconds", "Age of the "
                                   "oldest file waiting for its copy to a replica (0: none)",
                                   labels=["destination"])
        try:
            counts = self.ledger.copy_counts()
            waiting = {n: _epoch(self.ledger.copy_status(n).oldest_pending_since)
                       for n in names}
        except LedgerError:  # no samples: unknown is not zero (ossync_ledger_up says why)
            return
        now = time.time()
        for name in names:
            for state in STATES:
                copies.add_metric([name, state], counts.get(name, {}).get(state, 0))
            since = waiting[name]
            oldest.add_metric([name], 0.0 if since is None else max(now - since, 0.0))
        yield copies
        yield oldest

    def _folders(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("ossync_folder_state", "1 for a watch folder's current "
                                  "state: watched (inotify), polled, missing",
                                  labels=["folder", "state"])
        avail = GaugeMetricFamily("ossync_folder_filesystem_avail_bytes", "Free space for "
                                  "ossync's user on the file system behind a watch folder",
                                  labels=["folder"])
        size = GaugeMetricFamily("ossync_folder_filesystem_size_bytes", "Size of the file "
                                 "system behind a watch folder", labels=["folder"])
        for folder in folder_states(self.daemon):
            for name in FOLDER_STATES:
                state.add_metric([folder.label, name], 1 if folder.state == name else 0)
            if folder.avail_bytes is not None and folder.size_bytes is not None:
                avail.add_metric([folder.label], folder.avail_bytes)
                size.add_metric([folder.label], folder.size_bytes)
        yield state
        yield avail
        yield size
