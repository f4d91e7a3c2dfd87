"""When uploads are held, and the events that say so: `service.held` when a hold begins
(or its reasons change), `service.resumed` when it ends.

A hold has three causes, looked at on every turn of the main loop: no valid credentials
(the rotating source's refresher says why), the ledger away, and the store refusing —
`StoreWatch`, a wrapper around the work queue, sees every outcome and calls the store
refusing once its failures have gone on for `STORE_HOLD` seconds without one upload in
between (and not ended: no failure for twice `retry_max_delay` ends it too). A hold that
begins while the ledger is away is recorded when it answers again (with `since`, when it
began): the events wait in a short queue of their own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

from ossync.core.textforms import printable
from ossync.ledger import (
    Deferred,
    FileRow,
    LedgerError,
    Outbox,
    Outcome,
    Upload,
    Uploaded,
    WorkQueue,
)
from ossync.ledger.events import NewEvent, service_held, service_resumed
from ossync.ledger.records import now_text
from ossync.ledger.wrapping import QueueWrapper

log = logging.getLogger("ossync.service.holds")
STORE_HOLD = 30.0  # seconds of store failures, with no upload between, that make a hold
STORE_FAILURES = 3  # ... and at least this many of them
SELF_LOGGED = frozenset({"credentials"})  # causes whose source logs the hold and its end
MAX_WAITING = 20  # events kept while the ledger is away (the oldest go first)


class Holds:
    def __init__(self, outbox: Outbox, store: StoreWatch, keys: Callable[[], str | None],
                 ledger_away: Callable[[], bool]) -> None:
        self.outbox = outbox
        self.host = outbox.host
        self.store = store  # the store refusing, as the work queue saw it
        self.keys = keys  # why no valid credentials are at hand (the refresher's words)
        self.ledger_away = ledger_away
        self.reasons: dict[str, str] = {}  # cause (credentials, ledger, store) → why
        self._since: str | None = None
        self._began = 0.0  # monotonic
        self._waiting: deque[NewEvent] = deque(maxlen=MAX_WAITING)

    def causes(self) -> dict[str, str]:
        """What holds uploads now: each cause → why, in words."""
        found = {"credentials": self.keys() or "",
                 "ledger": "the ledger cannot be reached" if self.ledger_away() else "",
                 "store": self.store.problem() or ""}
        return {cause: why for cause, why in found.items() if why}

    def problems(self) -> list[str]:
        """Why uploads are held now (empty: they are not), looked at afresh."""
        return [f"uploads held: {why}" for why in self.causes().values()]

    def turn(self) -> None:
        """Each turn of the daemon's main loop: an event when a hold begins or ends."""
        self.update(self.causes())

    def update(self, found: dict[str, str]) -> None:
        """The causes found on this turn; an event when a hold begins, changes or ends."""
        before = self.reasons
        if found and (not before or set(found) != set(before)):
            if not before:
                self._since, self._began = now_text(), time.monotonic()
            _log_held(found)
            self._waiting.append(service_held(host=self.host, reasons=list(found.values()),
                                              since=self._since or now_text()))
        elif before and not found:
            held = time.monotonic() - self._began
            if set(before) - SELF_LOGGED:
                log.warning("uploads go again after %.0fs held", held)
            self._waiting.append(service_resumed(host=self.host, reasons=list(before.values()),
                                                 since=self._since or now_text(),
                                                 held_seconds=held))
        self.reasons = dict(found)
        self._record()

    def _record(self) -> None:
        while self._waiting:
            try:
                self.outbox.record_event(self._waiting[0])
            except LedgerError:
                return  # the ledger is away: next turn
            self._waiting.popleft()


def _log_held(found: dict[str, str]) -> None:
    """One line per hold: a cause whose source says so itself (the credential refresher's
    "uploads held: no valid credentials …") is not said twice."""
    own = {cause: why for cause, why in found.items() if cause not in SELF_LOGGED}
    if own:
        log.warning("uploads held: %s", "; ".join(own.values()))


class StoreWatch(QueueWrapper):
    """The work queue, watching what the store does to uploads (a wrapper, like the
    metrics' `MeteredQueue`: no worker knows about it)."""

    def __init__(self, inner: WorkQueue, retry_max_delay: float) -> None:
        super().__init__(inner)
        # A store still refusing fails a retry at least this often while files wait; so
        # long without a failure (the failing files vanished, say) ends the hold too.
        self.forget_after = 2 * retry_max_delay + STORE_HOLD
        self._lock = threading.Lock()
        self._failing_since: float | None = None  # monotonic: the first failure in a row
        self._failed_at = 0.0  # monotonic: the last one
        self._failures = 0
        self._last: str | None = None

    def problem(self, now: float | None = None) -> str | None:
        """Why the store counts as refusing, or None."""
        now = time.monotonic() if now is None else now
        with self._lock:
            since = self._failing_since
            if since is None or self._failures < STORE_FAILURES or now - since < STORE_HOLD \
                    or now - self._failed_at > self.forget_after:
                return None
            return printable(f"the store refuses or does not answer ({self._failures} "
                             f"failed attempts in {now - since:.0f}s, none stored; last: "
                             f"{self._last})")[:300]

    def settle(self, row: FileRow, outcome: Outcome) -> Upload | None:
        upload = self.inner.settle(row, outcome)
        with self._lock:
            if isinstance(outcome, Deferred) and outcome.by_store:
                self._failed_at = time.monotonic()
                if self._failing_since is None or \
                        self._failed_at - self._failing_since > self.forget_after:
                    self._failing_since, self._failures = self._failed_at, 0
                self._failures += 1
                self._last = outcome.code or (outcome.error or "")[:100]
            elif isinstance(outcome, Uploaded):
                self._failing_since, self._failures, self._last = None, 0, None
        return upload

