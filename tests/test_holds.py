"""When uploads count as held, and the service.held / service.resumed events: the store
refusing (failures for 30 s with no upload between, forgotten when they stop), no valid
keys, the ledger away — whose events wait until it answers again."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from ossync.ledger import Deferred, Ledger, LedgerUnavailable, Sighting
from ossync.ledger.events import NewEvent
from ossync.service.holds import STORE_HOLD, Holds, StoreWatch
from ossync.targets import UploadResult

from .queue_helpers import claim, record


def _fail(watch: StoreWatch, ledger: Ledger, path: str) -> None:
    ledger.note([Sighting(path, "cam", 10, 1, 0.0)])
    row = claim(ledger)
    assert row is not None
    watch.settle(row, Deferred(0.0, error="503 busy", count_attempt=True, code="ServiceBusy",
                               by_store=True))


def test_the_store_refusing_for_a_while_is_a_hold_until_an_upload_goes(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db", host="h") as ledger:
        watch = StoreWatch(ledger, retry_max_delay=600.0)
        for i in range(3):
            _fail(watch, ledger, f"/d/{i}.jpg")
        now = time.monotonic()
        assert watch.problem(now) is None  # not for long enough yet
        text = watch.problem(now + STORE_HOLD + 1)
        assert text is not None and "3 failed attempts" in text and "ServiceBusy" in text
        assert watch.problem(now + 2 * 600 + STORE_HOLD + 5) is None  # nothing failed since
        ledger.note([Sighting("/d/ok.jpg", "cam", 10, 1, 0.0)])
        row = claim(ledger)
        assert row is not None
        record(watch, row, UploadResult("k", "u", 10, None, None), bucket="b",  # type: ignore[arg-type]
               sha256="aa" * 32, content_type="image/jpeg", mtime_ns=1)
        assert watch.problem(now + STORE_HOLD + 1) is None  # an upload went: no hold


class Outbox:
    """Records events, or refuses while `away` (the ledger cannot be reached)."""

    host = "h"

    def __init__(self) -> None:
        self.away = False
        self.events: list[NewEvent] = []

    def record_event(self, event: NewEvent) -> int:
        if self.away:
            raise LedgerUnavailable("connection refused")
        self.events.append(event)
        return len(self.events)


class Quiet:
    def problem(self) -> str | None:
        return None


def test_holds_record_when_a_hold_begins_changes_and_ends() -> None:
    outbox = Outbox()
    causes: dict[str, Any] = {"keys": None, "away": False}
    holds = Holds(outbox, Quiet(), lambda: causes["keys"],  # type: ignore[arg-type]
                  lambda: causes["away"])
    holds.turn()
    assert outbox.events == [] and holds.problems() == []
    causes["keys"] = "no valid credentials: the last ones expired"
    holds.turn()
    holds.turn()  # the same hold: no second event
    assert holds.problems() == ["uploads held: no valid credentials: the last ones expired"]
    causes["away"] = True  # a second cause: said again, with both; but the ledger is away
    outbox.away = True
    holds.turn()
    causes["keys"], causes["away"] = None, False
    holds.turn()  # the hold ended while its events waited
    outbox.away = False
    holds.turn()
    kinds = [(e.type, e.data["reasons"]) for e in outbox.events]
    assert kinds == [
        ("service.held", ["no valid credentials: the last ones expired"]),
        ("service.held", ["no valid credentials: the last ones expired",
                          "the ledger cannot be reached"]),
        ("service.resumed", ["no valid credentials: the last ones expired",
                             "the ledger cannot be reached"])]
    resumed = outbox.events[-1].data
    assert resumed["since"] == outbox.events[0].data["since"] and resumed["held_seconds"] >= 0
    json.dumps(resumed)


def test_a_hold_is_logged_once_whoever_says_it(caplog: Any) -> None:
    """The credential refresher logs its own hold ("uploads held: no valid credentials …"
    and "uploads resume"): Holds adds a line only for the causes nobody else logs."""
    outbox = Outbox()
    causes: dict[str, Any] = {"keys": None, "away": False}
    holds = Holds(outbox, Quiet(), lambda: causes["keys"],  # type: ignore[arg-type]
                  lambda: causes["away"])
    caplog.set_level("DEBUG", logger="ossync.service.holds")
    causes["keys"] = "no valid credentials: the refresh failed"
    holds.turn()
    causes["keys"] = None
    holds.turn()
    assert [e.type for e in outbox.events] == ["service.held", "service.resumed"]
    assert [r.getMessage() for r in caplog.records] == []
    causes["away"] = True
    holds.turn()
    causes["away"] = False
    holds.turn()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2 and messages[0] == "uploads held: the ledger cannot be reached"
    assert messages[1].startswith("uploads go again after")
