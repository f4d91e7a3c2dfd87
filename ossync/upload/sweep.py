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
from collections.abc import Mapping
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
    state = _state_of(ledger, row)
    if state == "uploading":
        return None  # in a worker's hands: its own attempt resumes or replaces it
    try:
        size = os.stat(row.path).st_size
    except FileNotFoundError:
        return "its file is gone"
    except OSError:
        size = row.size  # unreadable for now: judge by the ledger alone
    if size != row.size:
        return "its file changed"
    if state in ("uploaded", "skipped"):
        return f"its {'copy' if row.destination else 'file'} is {state}"
    started = datetime.fromisoformat(row.started_at.replace("Z", "+00:00"))
    if state in (None, "failed") and now - started > KEEP_IDLE:
        # a failed file nobody retried, or an `ossync put` that was never run again
        return f"nobody went on with it for {KEEP_IDLE.days} days"
    return None


def _state_of(ledger: Ledger, row: MultipartRow) -> str | None:
    """The state of what the checkpoint sends: the file's row (the primary), or its copy
    to the replica; None when there is none."""
    if not row.destination:
        item = ledger.item(row.path, row.host)
        return None if item is None else item.state
    return next((c.state for c in ledger.copies_of(row.path, row.host)
                 if c.destination == row.destination), None)


def sweep(ledger: Ledger, target: Target, now: datetime | None = None,
          destination: str = "") -> int:
    """Abort this host's uploads to `destination` ("" the primary, else a replica's name)
    left behind; returns how many. A store that cannot be reached now is tried again at
    the next sweep."""
    now = now or datetime.now(timezone.utc)
    aborted = 0
    for row in ledger.multipart_rows(ledger.host):
        if row.destination != destination:
            continue
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


def sweep_every(interval: float, stop: threading.Event, ledger: Ledger, target: Target,
                replicas: Mapping[str, Target] | None = None) -> None:
    """The daemon's sweeper thread: shortly after start, then every `interval` seconds,
    until `stop`; the primary's uploads, then each replica's with its own target."""
    delay = FIRST_DELAY
    while not stop.wait(delay):
        failpoints.hit("sweeper.loop", stop)
        try:
            sweep(ledger, target)
            for name, replica in (replicas or {}).items():
                sweep(ledger, replica, destination=name)
        except LedgerUnavailable as exc:
            log.warning("the sweep of unfinished uploads waits for the ledger: %s", exc)
        delay = interval
