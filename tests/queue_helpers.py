"""Short ways for tests to drive the ledger's queue contract by hand (what a worker does
through `next_row` and `settle`)."""

from __future__ import annotations

import threading

from ossync.ledger import Content, FileRow, Ledger, Queue, Upload, Uploaded
from ossync.targets import UploadResult

_STOPPED = threading.Event()
_STOPPED.set()


def claim(queue: Queue) -> FileRow | None:
    """A due row, claimed; None at once when none is due (a stopped queue never sleeps)."""
    return queue.next_row(_STOPPED)


def record(queue: Queue, row: FileRow, result: UploadResult, *, bucket: str, sha256: str,
           content_type: str, mtime_ns: int, content: Content | None = None,
           dedupe: bool = False) -> Upload:
    """The `Uploaded` outcome: the upload that now holds the row."""
    upload = queue.settle(row, Uploaded(result, bucket, sha256, content_type, mtime_ns,
                                        content, dedupe))
    assert upload is not None
    return upload


def serving(ledger: Ledger, *groups: str) -> Ledger:
    """The ledger of a host that also serves these folder groups."""
    ledger.groups = groups
    return ledger
