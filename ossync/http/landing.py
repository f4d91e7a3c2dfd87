"""What became of a form an app was given: the object is looked at (a HEAD, or the
values of a callback OSS signed) and recorded only when it is exactly what the form
allowed — the key, the size, the type and, when the app says them, its CRC-64 or
ETag. Whoever comes first (the callback, the app's confirm, the periodic check)
records it; the others find it recorded and change nothing.

`AppChecker` is the periodic check the daemon runs: forms past their expiry are looked
for in the bucket; what arrived is recorded (an app that never confirmed, a callback
that failed: OSS answers 203 and never calls again), and a form still unused a while
after its expiry (an upload may be in flight when the form expires) is forgotten.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from ossync.core.errors import StoreError
from ossync.core.objects import ObjectInfo, UploadResult
from ossync.core.textforms import printable
from ossync.ledger import AppUploads, Issued, LedgerError, Upload
from ossync.ledger.records import stamp
from ossync.targets import Target

log = logging.getLogger("ossync.http.uploads")
IN_FLIGHT = timedelta(minutes=15)  # an upload begun as its form expired may still land
BATCH = 100


@dataclass(frozen=True)
class Expected:
    """Checksums an app may state when it confirms (each optional)."""

    crc64: int | None = None
    etag: str | None = None


class Mismatch(Exception):
    """The stored object is not the one the form allowed (or not the one the app sent)."""


def _etag(value: str | None) -> str | None:
    return None if value is None else value.strip().strip('"').lower()


def checked(issued: Issued, info: ObjectInfo, expected: Expected = Expected()) -> None:
    if info.size != issued.size:
        raise Mismatch(f"the stored object has {info.size} bytes, the form {issued.size}")
    kind = (info.content_type or "").split(";")[0].strip().lower()
    if kind and kind != issued.content_type:
        raise Mismatch(f"the stored object is {kind}, the form {issued.content_type}")
    if expected.crc64 is not None and info.crc64 is not None and info.crc64 != expected.crc64:
        raise Mismatch("the stored object's CRC-64 is not the one the app sent")
    if expected.etag is not None and _etag(info.etag) != _etag(expected.etag):
        raise Mismatch("the stored object's ETag is not the one the app sent")


def record(ledger: AppUploads, target: Target, issued: Issued, info: ObjectInfo,
           request_id: str | None = None) -> Upload:
    etag = info.etag if info.etag is None or info.etag.startswith('"') else f'"{info.etag}"'
    result = UploadResult(key=issued.key, url=target.url_for(issued.key), size=info.size,
                          etag=etag, crc64=info.crc64, request_id=request_id)
    upload = ledger.record_issued(issued, result)
    log.info("app upload recorded: %s (%d bytes, %s)", printable(issued.key), info.size,
             issued.folder)
    return upload


def confirm(ledger: AppUploads, target: Target, issued: Issued,
            expected: Expected = Expected()) -> Upload | None:
    """HEAD the object and record it; None when it is not there (yet)."""
    info = target.head(issued.key)
    if info is None:
        return None
    checked(issued, info, expected)
    return record(ledger, target, issued, info)


class AppChecker:
    """The periodic check of forms given out and not yet recorded (one host's)."""

    def __init__(self, ledger: AppUploads, target: Target, interval: float) -> None:
        self.ledger = ledger
        self.target = target
        self.interval = interval

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.interval):
            try:
                self.check(datetime.now(timezone.utc))
            except (LedgerError, StoreError) as exc:
                log.warning("the check of app uploads waits for its next turn: %s", exc)

    def check(self, now: datetime) -> tuple[int, int]:
        """One pass; (recorded, dropped)."""
        recorded = dropped = 0
        for issued in self.ledger.due_issued(stamp(now), BATCH):
            outcome = self._one(issued, now)
            recorded += outcome == "recorded"
            dropped += outcome == "dropped"
        return recorded, dropped

    def _one(self, issued: Issued, now: datetime) -> str:
        try:
            if confirm(self.ledger, self.target, issued) is not None:
                return "recorded"
        except Mismatch as exc:
            log.warning("app upload %s is not what its form allowed (%s): not recorded",
                        printable(issued.key), exc)
            self.ledger.check_later(issued.id, stamp(now + timedelta(days=1)))
            return "wrong"
        expired = datetime.fromisoformat(issued.expires_at.replace("Z", "+00:00"))
        if now >= expired + IN_FLIGHT:
            return "dropped" if self.ledger.drop_issued(issued.id) else "recorded"
        self.ledger.check_later(issued.id, stamp(min(now + timedelta(seconds=self.interval),
                                                     expired + IN_FLIGHT)))
        return "later"
