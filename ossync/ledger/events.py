"""The events apps hear about: one place that lists every type and builds its data.

An event is written in the same transaction as the change it tells of (an upload
recorded, a file failed), so it is never told of a change that did not happen nor lost
for one that did. Its data is a JSON object of plain values: paths in the ledger form
(`ossync.core.textforms.ledger_text`), error texts in the printable form, so the JSON is
valid UTF-8 whatever a file is called.

Adding a type is one step: a `Kind` in `TYPES` and a function that builds its `NewEvent`
(the ledger, the webhooks, the command hook, `/v1/events` and `ossync events` take it
from there; docs/events.md lists the data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ossync.core.textforms import ledger_text, printable
from ossync.ledger.records import CopyRow, Event, Upload


@dataclass(frozen=True)
class Kind:
    name: str
    text: str  # one line: when it is recorded


FILE_UPLOADED = Kind("file.uploaded", "a file's upload was recorded (sent, or recorded "
                     "against an object that already held its bytes)")
FILE_FAILED = Kind("file.failed", "a file failed for good: it needs a person (`ossync "
                   "retry`)")
SERVICE_HELD = Kind("service.held", "uploads are held: no valid credentials, the ledger "
                    "away, or the store refusing")
SERVICE_RESUMED = Kind("service.resumed", "uploads go again after a hold")
DELIVERY_GAVE_UP = Kind("delivery.gave_up", "a delivery endpoint gave up on events older "
                        "than its max_age")
COPY_STORED = Kind("copy.stored", "a file's copy to a replica was recorded (sent and "
                   "verified, or recorded against an object the replica already held)")
COPY_FAILED = Kind("copy.failed", "a file's copy to a replica failed for good: it needs a "
                   "person (`ossync retry`)")
TYPES: tuple[Kind, ...] = (FILE_UPLOADED, FILE_FAILED, SERVICE_HELD, SERVICE_RESUMED,
                           DELIVERY_GAVE_UP, COPY_STORED, COPY_FAILED)
NAMES = tuple(kind.name for kind in TYPES)


@dataclass(frozen=True)
class NewEvent:
    """An event to record: its type, the folder it concerns (endpoints may ask for some
    folders only), and its data."""

    type: str
    data: dict[str, Any] = field(default_factory=dict)
    folder: str | None = None

    def json(self) -> str:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"),
                          sort_keys=True)


def file_uploaded(upload: Upload, *, path: str, folder: str, host: str, size: int,
                  sha256: str, duplicate: bool) -> NewEvent:
    """`duplicate`: nothing was sent, the row was recorded against an object that already
    held its bytes (content dedupe, or another sender's upload that won) — `key`, `url`
    and `uploaded_at` are that object's, and `uploaded_from` the path it was sent from."""
    return NewEvent(FILE_UPLOADED.name, {
        "path": ledger_text(path), "folder": folder, "host": host, "bucket": upload.bucket,
        "key": upload.key, "url": upload.url, "sha256": sha256, "size": size,
        "content_type": upload.content_type, "uploaded_at": upload.uploaded_at,
        "duplicate": duplicate,
        "uploaded_from": ledger_text(upload.path), "upload_id": upload.id,
    }, folder)


def file_failed(*, path: str, folder: str, host: str, error: str | None, attempts: int,
                sha256: str | None) -> NewEvent:
    return NewEvent(FILE_FAILED.name, {
        "path": ledger_text(path), "folder": folder, "host": host,
        "error": printable(error or "(no message)"), "attempts": attempts, "sha256": sha256,
    }, folder)


def copy_stored(copy: CopyRow, *, host: str, bucket: str, key: str, url: str,
                uploaded_at: str, duplicate: bool) -> NewEvent:
    """`destination` names the replica; `duplicate`: nothing was sent, the copy was recorded
    against an object the replica already held with these bytes."""
    return NewEvent(COPY_STORED.name, {
        "path": ledger_text(copy.path), "folder": copy.folder, "host": host,
        "destination": copy.destination, "bucket": bucket, "key": key, "url": url,
        "sha256": copy.sha256, "size": copy.size, "content_type": copy.content_type,
        "uploaded_at": uploaded_at, "duplicate": duplicate,
    }, copy.folder)


def copy_failed(copy: CopyRow, *, host: str, error: str | None, attempts: int) -> NewEvent:
    return NewEvent(COPY_FAILED.name, {
        "path": ledger_text(copy.path), "folder": copy.folder, "host": host,
        "destination": copy.destination, "error": printable(error or "(no message)"),
        "attempts": attempts, "sha256": copy.sha256,
    }, copy.folder)


def service_held(*, host: str, reasons: list[str], since: str) -> NewEvent:
    return NewEvent(SERVICE_HELD.name, {
        "host": host, "reasons": [printable(r) for r in reasons], "since": since})


def service_resumed(*, host: str, reasons: list[str], since: str, held_seconds: float
                    ) -> NewEvent:
    return NewEvent(SERVICE_RESUMED.name, {
        "host": host, "reasons": [printable(r) for r in reasons], "since": since,
        "held_seconds": round(held_seconds, 3)})


def delivery_gave_up(*, host: str, endpoint: str, first_id: int, last_id: int, count: int,
                     error: str | None, max_age: float) -> NewEvent:
    return NewEvent(DELIVERY_GAVE_UP.name, {
        "host": host, "endpoint": endpoint, "first_id": first_id, "last_id": last_id,
        "count": count, "error": printable(error or "(no message)"), "max_age": max_age})


def message(event: Event) -> dict[str, Any]:
    """An event as apps receive it: the Standard Webhooks payload (`type`, `timestamp`,
    `data`) with its `id`, the same in a webhook, `/v1/events` and `ossync events`."""
    return {"id": event.id, "type": event.type, "timestamp": event.at,
            "data": json.loads(event.data)}
