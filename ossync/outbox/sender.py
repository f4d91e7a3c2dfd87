"""One delivery endpoint's stage: its events, in order, at least once.

Each turn takes the endpoint's cursor (`Outbox.take_cursor`: this host's for a lease,
or another host's — then this one stands by until that lease could have run out, or
until new events come and the holder may have let go). Holding
it, the sender reads the events after the cursor (`next_events` sleeps on the ledger's
bell while there are none: no polling) and hands each one the endpoint wants to it; the
cursor moves past an event only once the endpoint took it (or does not want it), so a
crash at any moment costs at most a repeat of one event, with the same id.

A refusal stops the line (order is kept): the cursor records the error and when to try
again, by the one retry policy (1 s doubling to the endpoint's `retry_max_delay`, with
jitter). An event that is still refused `max_age` after it was recorded is given up on,
with every other event as old: `Outbox.give_up` records a `delivery.gave_up` event in
the same transaction. Memory is a batch of events; threads, this one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from ossync.core import failpoints
from ossync.core.retry import RetryPolicy
from ossync.ledger import LedgerError, Outbox
from ossync.ledger.records import Delivery, Event, stamp

log = logging.getLogger("ossync.outbox")
BATCH = 100  # events read at once
LEDGER_RETRY = 5.0  # seconds between tries while the ledger cannot be used
MIN_LEASE = 60.0  # seconds a cursor is held without renewal (longer than any attempt)
STANDBY_LOOK = 1.0  # seconds at least between looks at a cursor another host holds
# sent, failed (an attempt refused), given_up (events): how a delivery went, and how many
Tally = Callable[[str, str, int], None]


class Endpoint(Protocol):
    name: str  # in the log and the metrics (from the config: bounded)
    cursor: str  # its cursor's name in the ledger (`deliveries.endpoint`)

    @property
    def timeout(self) -> float: ...  # the longest one attempt takes

    def wants(self, event: Event) -> bool: ...

    def deliver(self, event: Event, stop: threading.Event) -> str | None:
        """None when the event was taken; else why not (one line, no secret)."""
        ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Pace:
    retry: RetryPolicy  # the wait after each refusal in a row
    max_age: float  # seconds after which a refused event is given up on
    lease: float  # seconds a cursor is held between renewals

    @classmethod
    def of(cls, timeout: float, retry_max_delay: float, max_age: float) -> Pace:
        return cls(RetryPolicy(initial=min(1.0, retry_max_delay), longest=retry_max_delay),
                   max_age, max(MIN_LEASE, 2 * timeout + 30.0))


class Sender:
    def __init__(self, endpoint: Endpoint, outbox: Outbox, stop: threading.Event,
                 pace: Pace, tally: Tally | None = None) -> None:
        self.endpoint = endpoint
        self.outbox = outbox
        self.stop = stop
        self.pace = pace
        self.tally = tally or (lambda _name, _result, _count: None)
        self.name = endpoint.name  # in the log and the metrics
        self.cursor = endpoint.cursor  # its place in the ledger
        self._away = False  # the ledger was found away (said once)

    def run(self) -> None:
        """The stage's body: until stop; the cursor is let go at the end."""
        try:
            while not self.stop.is_set():
                failpoints.hit("outbox.loop", self.stop)
                self._turn()
        finally:
            self._let_go()

    def _turn(self) -> None:
        try:
            cursor = self.outbox.take_cursor(self.cursor, self.pace.lease)
            if cursor.claimed_by != self.outbox.host:  # another host delivers for it
                self._stand_by(cursor)
                return
            due = cursor.next_attempt - time.time()
            if due > 0:
                self.stop.wait(min(due, self.pace.lease / 3))
                return
            events = self.outbox.next_events(cursor.delivered, BATCH, self.pace.lease / 3,
                                             self.stop)
            if events:
                self._deliver(cursor, events)
            if self._away:
                log.warning("%s: the ledger answers again; delivering", self.name)
                self._away = False
        except LedgerError as exc:
            if not self._away:
                log.error("%s: the ledger cannot be used (%s); deliveries wait for it",
                          self.name, exc)
                self._away = True
            self.stop.wait(LEDGER_RETRY)

    def _stand_by(self, cursor: Delivery) -> None:
        """Another host holds the cursor: look again when its lease could have run out
        (it died), or soon after new events are recorded (it may have let go: stopped),
        but never more often than every `STANDBY_LOOK` seconds."""
        seen = self.outbox.bell.rung
        self.outbox.bell.wait(seen, min(max(cursor.lease_left or 0.0, 0.0), self.pace.lease))
        self.stop.wait(STANDBY_LOOK)

    def _deliver(self, cursor: Delivery, events: list[Event]) -> None:
        at, attempts = cursor.delivered, cursor.attempts
        passed: int | None = None  # events not wanted, not yet written past
        for event in events:
            if self.stop.is_set():
                break
            if not self.endpoint.wants(event):
                passed = event.id
                continue
            if passed is not None:
                if not self._advance(at, passed, 0):
                    return
                at, passed = passed, None
            error = self.endpoint.deliver(event, self.stop)
            if error is None:
                if not self._advance(at, event.id, 1):
                    return
                at, attempts = event.id, 0
                self.tally(self.name, "sent", 1)
                continue
            if not self.stop.is_set():  # a stop that cut it short is no refusal
                self.tally(self.name, "failed", 1)
                self._refused(at, event, attempts, error)
            return
        if passed is not None:
            self._advance(at, passed, 0)

    def _advance(self, at: int, through: int, sent: int) -> bool:
        if self.outbox.advance_cursor(self.cursor, at, through, sent, self.pace.lease):
            return True
        log.warning("%s: another host took over its deliveries (this one was cut off "
                    "longer than its lease); it goes on from where they stand", self.name)
        return False

    def _refused(self, at: int, event: Event, attempts: int, error: str) -> None:
        now = datetime.now(timezone.utc)
        recorded = datetime.fromisoformat(event.at.replace("Z", "+00:00"))
        if (now - recorded).total_seconds() > self.pace.max_age:
            before = stamp(now - timedelta(seconds=self.pace.max_age))
            count = self.outbox.give_up(self.cursor, at, before, error, self.pace.max_age)
            if count:
                self.tally(self.name, "given_up", count)
                log.error("%s: gave up on %d event(s) recorded more than %s ago, still "
                          "refused: %s", self.name, count,
                          timedelta(seconds=int(self.pace.max_age)), error)
            return
        delay = self.pace.retry.delay(attempts + 1)
        self.outbox.delivery_failed(self.cursor, at, error, delay, self.pace.lease)
        log.warning("%s: event %d (%s) not delivered, attempt %d; trying again in %.0fs: %s",
                    self.name, event.id, event.type, attempts + 1, delay, error)

    def _let_go(self) -> None:
        """Another host may take over at once (best effort: the lease runs out anyway)."""
        with suppress(LedgerError):
            self.outbox.release_cursor(self.cursor)
        self.endpoint.close()
