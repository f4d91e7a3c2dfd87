"""A work queue that passes everything to another, written once: what watches the queue
(the metrics, the store watch) extends it and overrides only the calls it looks at."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from ossync.ledger.contracts import WorkQueue
from ossync.ledger.outcomes import Outcome
from ossync.ledger.records import FileRow, Sighting, Upload


class QueueWrapper:
    """`Intake` and `Queue` of `inner`, as they are."""

    def __init__(self, inner: WorkQueue) -> None:
        self.inner = inner
        self.host = inner.host

    def note(self, sightings: Iterable[Sighting]) -> int:
        return self.inner.note(sightings)

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        return self.inner.known_unchanged(path, size, mtime_ns)

    def next_row(self, stop: threading.Event) -> FileRow | None:
        return self.inner.next_row(stop)

    def notify(self) -> None:
        self.inner.notify()

    def claim_content(self, bucket: str, sha256: str, *, durable: bool = False) -> bool:
        return self.inner.claim_content(bucket, sha256, durable=durable)

    def release_content(self, bucket: str, sha256: str) -> None:
        self.inner.release_content(bucket, sha256)

    def intend(self, row: FileRow, *, sha256: str, key: str,
               tagging: str | None = None) -> None:
        self.inner.intend(row, sha256=sha256, key=key, tagging=tagging)

    def stored(self, bucket: str, sha256: str, sent_sha256: str | None = None
               ) -> Upload | None:
        return self.inner.stored(bucket, sha256, sent_sha256)

    def upload_by_id(self, upload_id: int) -> Upload | None:
        return self.inner.upload_by_id(upload_id)

    def settle(self, row: FileRow, outcome: Outcome) -> Upload | None:
        return self.inner.settle(row, outcome)
