"""Uploads in parts left behind are aborted: nothing unfinished stays stored and billed.

A checkpoint outlives its upload when the file is deleted or changed before its upload
resumes, when the same bytes were meanwhile uploaded from another path, or when the
file failed (or an `ossync put` was cut short) and nobody went on for a week. The
daemon's sweeper runs this at start and every hour; checkpoints of files still queued
or in hand are left alone (their own next attempt resumes or replaces them).
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta, timezone

from ossync.core import failpoints
from ossync.core.errors import StoreError
from ossync.ledger import Ledger, LedgerUnavailable, MultipartRow
from ossync.targets import Target

log = logging.getLogger("ossync.upload.sweep")
KEEP_IDLE = timedelta(days=7)  # parts of a failed file wait this long for `ossync retry`
FIRST_DELAY = 5.0  # seconds after start before the first sweep


def left_behind(ledger: Ledger, row: MultipartRow, now: datetime) -> str | None:
    """Why the checkpoint's upload can go, or None while its file may still need it."""
    item = ledger.item(row.path, row.host)
    if item is not None and item.state == "uploading":
        return None  # in a worker's hands: its own attempt resumes or replaces it
    try:
        size = os.stat(row.path).st_size
    except FileNotFoundError:
        return "its file is gone"
    except OSError:
        size = row.size  # unreadable for now: judge by the ledger alone
    if size != row.size:
        return "its file changed"
    if item is not None and item.state in ("uploaded", "skipped"):
        return f"its file is {item.state}"
    started = datetime.fromisoformat(row.started_at.replace("Z", "+00:00"))
    if (item is None or item.state == "failed") and now - started > KEEP_IDLE:
        # a failed file nobody retried, or an `ossync put` that was never run again
        return f"nobody went on with it for {KEEP_IDLE.days} days"
    return None


def sweep(ledger: Ledger, target: Target, now: datetime | None = None) -> int:
    """Abort this host's uploads left behind; returns how many. A store that cannot be
    reached now is tried again at the next sweep."""
    now = now or datetime.now(timezone.utc)
    aborted = 0
    for row in ledger.multipart_rows(ledger.host):
        reason = left_behind(ledger, row, now)
        if reason is None:
            continue
        try:
            target.abandon(row.key, row.upload_id)
        except StoreError as err:
            log.warning("could not abort the unfinished upload of %s (%s): %s; trying again "
                        "at the next sweep", row.key, reason, err)
            continue
        ledger.multipart_end(row.id)
        aborted += 1
        log.info("aborted the unfinished upload of %s: %s", row.key, reason)
    return aborted


def sweep_every(interval: float, stop: threading.Event, ledger: Ledger, target: Target
                ) -> None:
    """The daemon's sweeper thread: shortly after start, then every `interval` seconds,
    until `stop`."""
    delay = FIRST_DELAY
    while not stop.wait(delay):
        failpoints.hit("sweeper.loop", stop)
        try:
            sweep(ledger, target)
        except LedgerUnavailable as exc:
            log.warning("the sweep of unfinished uploads waits for the ledger: %s", exc)
        delay = interval
