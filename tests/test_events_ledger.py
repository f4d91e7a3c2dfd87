"""The ledger's events and delivery cursors, on SQLite and PostgreSQL: recorded in the
transaction of the change they tell of, read in id order, waited for without polling,
and cursors that one host at a time moves."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from ossync.ledger import Aliased, Deferred, Ledger, Settled, Sighting
from ossync.ledger.bell import Bell
from ossync.ledger.events import NAMES, NewEvent, message, service_held
from ossync.ledger.records import Event, now_text
from ossync.targets import UploadResult

from .queue_helpers import claim, record

LEASE = 60.0


def _noted(ledger: Ledger, path: str, size: int = 10) -> None:
    ledger.note([Sighting(path, "cam", size, 1, 0.0)])


def _uploaded(ledger: Ledger, path: str, key: str) -> None:
    _noted(ledger, path)
    row = claim(ledger)
    assert row is not None and row.path == path
    record(ledger, row, UploadResult(key, f"https://b.example/{key}", 10, '"e"', 7),
           bucket="b", sha256="aa" * 32, content_type="image/jpeg", mtime_ns=1)


def _data(event: Event) -> dict[str, object]:
    data = json.loads(event.data)
    assert isinstance(data, dict)
    return data


def test_uploads_failures_and_holds_are_recorded_as_events(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="cam-1") as ledger:
        assert ledger.last_event_id() == 0
        _uploaded(ledger, "/d/a.jpg", "k/a.jpg")
        _noted(ledger, "/d/copy of a.jpg")
        row = claim(ledger)
        assert row is not None
        upload = ledger.upload_by_id(1)
        assert upload is not None
        ledger.settle(row, Aliased(upload, 10, 1, "aa" * 32))
        _noted(ledger, "/d/bad.jpg")
        row = claim(ledger)
        assert row is not None
        ledger.settle(row, Deferred(0.0, error="timeout", count_attempt=True))  # no event
        row = claim(ledger)
        assert row is not None
        ledger.settle(row, Settled("failed", "AccessDenied: no\nway", attempts=1))
        _noted(ledger, "/d/notes.txt")
        row = claim(ledger)
        assert row is not None
        ledger.settle(row, Settled("skipped", "not an image"))  # no event
        ledger.record_event(service_held(host="cam-1", reasons=["store: 503"],
                                         since=now_text()))
        events = ledger.events_after(0)
    assert [e.id for e in events] == [1, 2, 3, 4]
    assert [e.type for e in events] == ["file.uploaded", "file.uploaded", "file.failed",
                                        "service.held"]
    assert {e.type for e in events} <= set(NAMES)
    first, alias, failed, held = (_data(e) for e in events)
    assert first["path"] == "/d/a.jpg" and first["key"] == "k/a.jpg"
    assert first["url"] == "https://b.example/k/a.jpg" and first["duplicate"] is False
    assert first["host"] == "cam-1" and first["folder"] == "cam" and first["size"] == 10
    assert first["sha256"] == "aa" * 32 and first["content_type"] == "image/jpeg"
    assert alias["duplicate"] is True and alias["key"] == "k/a.jpg"
    assert alias["path"] == "/d/copy of a.jpg" and alias["uploaded_from"] == "/d/a.jpg"
    assert failed["error"] == "AccessDenied: no\\nway" and failed["attempts"] == 2
    assert held["reasons"] == ["store: 503"]
    assert events[0].folder == "cam" and events[3].folder is None
    assert message(events[0])["data"] == first
    assert set(message(events[0])) == {"id", "type", "timestamp", "data"}


def test_an_odd_file_name_gives_valid_utf8_json(ledger_at: str) -> None:
    odd = "/d/caf\udce9\n.jpg"  # a byte that is not UTF-8, and a newline
    with Ledger.open(ledger_at, host="h") as ledger:
        _uploaded(ledger, odd, "k/cafe.jpg")
        [event] = ledger.events_after(0)
    event.data.encode("utf-8")
    assert _data(event)["path"] == "/d/caf\\xe9\n.jpg"


def test_a_change_that_rolls_back_records_no_event(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h") as ledger:
        seen = ledger.bell.rung
        with pytest.raises(RuntimeError), ledger.transaction() as conn:
            ledger._insert_event(conn, NewEvent("service.held", {"host": "h"}))
            raise RuntimeError("boom")
        assert ledger.last_event_id() == 0
        assert ledger.bell.rung == seen  # nothing to wake anyone for
        ledger.record_event(NewEvent("service.resumed", {"host": "h"}))
        assert ledger.bell.rung == seen + 1


def test_next_events_wakes_a_reader_of_another_handle_at_once(ledger_at: str) -> None:
    """The listener reads through a read-only handle of its own: a commit through the
    daemon's handle rings the bell they share (one per location in a process)."""
    with Ledger.open(ledger_at, host="h") as writer, \
            Ledger.open(ledger_at, readonly=True, host="h") as reader:
        assert reader.bell is writer.bell
        woke: list[float] = []

        def wait() -> None:
            found = reader.next_events(0, 10, timeout=20.0)
            woke.append(time.monotonic())
            assert [e.type for e in found] == ["service.held"]

        waiter = threading.Thread(target=wait)
        waiter.start()
        deadline = time.monotonic() + 10
        while not writer.bell._cond._waiters and time.monotonic() < deadline:  # type: ignore[attr-defined]
            time.sleep(0.01)
        wrote = time.monotonic()
        writer.record_event(service_held(host="h", reasons=["x"], since=now_text()))
        waiter.join(20)
        assert woke and woke[0] - wrote < 0.1


def test_watch_events_hears_another_process(ledger_at: str, tmp_path: Path) -> None:
    """A handle with a bell of its own stands for another process: only `watch_events`
    (PostgreSQL: LISTEN; SQLite: inotify on the folder) can ring it."""
    with Ledger.open(ledger_at, host="h") as writer, \
            Ledger.open(ledger_at, readonly=True, host="h") as reader:
        reader.bell = Bell()
        stop = threading.Event()
        watcher = threading.Thread(target=reader.watch_events, args=(stop,))
        watcher.start()
        try:
            # The watch may not be in place yet: record until one is heard (bounded).
            for _ in range(40):
                seen = reader.bell.rung
                writer.record_event(NewEvent("service.resumed", {"host": "h"}))
                if reader.bell.wait(seen, 0.5):
                    break
            else:
                raise AssertionError("no event of the other process was heard")
            seen = reader.bell.rung  # the watch is in place now: this ring is the event's
            writer.record_event(NewEvent("service.held", {"host": "h"}))
            assert reader.bell.wait(seen, 10.0), "the other process's event was not heard"
            assert reader.next_events(0, 100, 0)[-1].type == "service.held"
        finally:
            stop.set()
            watcher.join(10)


def test_an_event_recorded_while_the_watch_starts_is_not_missed(ledger_at: str) -> None:
    """`ossync events --follow` starts its watch in a thread while it prints what there
    is: an event recorded before the watch is in place must still wake the waiter
    (found by a busy machine: the follow slept through it)."""
    with Ledger.open(ledger_at, host="h") as writer, \
            Ledger.open(ledger_at, readonly=True, host="h") as reader:
        reader.bell = Bell()
        seen = reader.bell.rung
        assert reader.next_events(0, 100, 0) == []  # the waiter looked: nothing yet
        writer.record_event(NewEvent("service.held", {"host": "h"}))  # before the watch
        stop = threading.Event()
        watcher = threading.Thread(target=reader.watch_events, args=(stop,))
        watcher.start()
        try:
            assert reader.bell.wait(seen, 10.0), "the watch began without a look"
            assert [e.type for e in reader.next_events(0, 100, 0)] == ["service.held"]
        finally:
            stop.set()
            watcher.join(10)


def test_a_new_endpoint_starts_at_the_last_event(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="a") as ledger:
        ledger.record_event(NewEvent("service.held", {"host": "a"}))
        cursor = ledger.take_cursor("app", LEASE)
        assert (cursor.delivered, cursor.claimed_by, cursor.pending) == (1, "a", 0)
        ledger.record_event(NewEvent("service.resumed", {"host": "a"}))
        again = ledger.take_cursor("app", LEASE)
        assert (again.delivered, again.pending) == (1, 1)
        assert again.oldest_pending_at is not None


def test_one_host_at_a_time_moves_a_cursor(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="a") as a, Ledger.open(ledger_at, host="b") as b:
        for _ in range(3):
            a.record_event(NewEvent("service.held", {"host": "a"}))
        a.take_cursor("app", LEASE)
        assert not a.advance_cursor("app", 2, 0, 0, LEASE)  # not where it stands
        held = b.take_cursor("app", LEASE)
        assert held.claimed_by == "a"
        a.record_event(NewEvent("service.resumed", {"host": "a"}))
        assert not b.advance_cursor("app", 3, 4, 1, LEASE)
        assert a.advance_cursor("app", 3, 4, 1, LEASE)
        assert not a.advance_cursor("app", 3, 4, 1, LEASE)  # once only
        assert a.delivery_failed("app", 4, "HTTP 503\nbusy", 30.0, LEASE)
        [row] = a.deliveries()
        assert (row.delivered, row.sent, row.attempts, row.failures) == (4, 1, 1, 1)
        assert row.last_error == "HTTP 503\\nbusy" and row.next_attempt > time.time() + 20
        a.release_cursor("app")
        taken = b.take_cursor("app", LEASE)
        assert taken.claimed_by == "b" and taken.delivered == 4


def test_a_lease_that_ran_out_lets_another_host_take_over(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="a") as a, Ledger.open(ledger_at, host="b") as b:
        a.take_cursor("app", 0.05)
        time.sleep(0.2)
        assert b.take_cursor("app", LEASE).claimed_by == "b"
        assert not a.advance_cursor("app", 0, 0, 0, LEASE)


def test_giving_up_passes_old_events_over_and_says_so(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="a") as ledger:
        ledger.take_cursor("app", LEASE)
        for _ in range(3):
            ledger.record_event(NewEvent("service.held", {"host": "a"}))
        time.sleep(0.01)  # times are milliseconds
        cutoff = now_text()
        time.sleep(0.01)
        ledger.record_event(NewEvent("service.resumed", {"host": "a"}))
        assert ledger.give_up("app", 0, cutoff, "HTTP 500", 3600.0) == 3
        [row] = ledger.deliveries()
        assert (row.delivered, row.given_up, row.pending) == (3, 3, 2)
        gave_up = ledger.events_after(4)[0]
        assert gave_up.type == "delivery.gave_up"
        assert _data(gave_up) == {"host": "a", "endpoint": "app", "first_id": 1, "last_id": 3,
                                  "count": 3, "error": "HTTP 500", "max_age": 3600.0}
        assert ledger.give_up("app", 3, cutoff, "HTTP 500", 3600.0) == 0


def test_ossync_put_records_its_uploads_as_events(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h") as ledger:
        result = UploadResult("k/p.jpg", "https://b.example/k/p.jpg", 10, '"e"', 7)
        upload = ledger.record_direct("/d/p.jpg", "cam", mtime_ns=1, sha256="bb" * 32,
                                      content_type="image/jpeg", bucket="b", result=result)
        ledger.record_direct("/d/again.jpg", "cam", mtime_ns=1, sha256="bb" * 32,
                             content_type="image/jpeg", bucket="b", existing=upload)
        sent, alias = (_data(e) for e in ledger.events_after(0))
    assert (sent["path"], sent["duplicate"], sent["key"]) == ("/d/p.jpg", False, "k/p.jpg")
    assert (alias["path"], alias["duplicate"], alias["uploaded_from"]) == (
        "/d/again.jpg", True, "/d/p.jpg")
