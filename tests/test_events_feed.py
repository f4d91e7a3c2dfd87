"""`GET /v1/events` on the daemon's listener and `ossync events`: the ledger's events in
order, a long poll that wakes as soon as an upload is recorded, ids never skipped, values
read strictly, long polls bounded; the CLI's --follow wakes on another process's events
without polling and ends on Ctrl-C."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from ossync.cli.main import main
from ossync.ledger import Ledger
from ossync.ledger.events import NewEvent, service_held
from ossync.ledger.records import now_text
from tests.daemon_helpers import jpeg_bytes, wait_for
from tests.http_helpers import TOKEN, Running, http_daemon, parse_metrics, value, write_token
from tests.webhook_receiver import Receiver, write_secret


def _get(run: Running, query: str, timeout: float = 70) -> requests.Response:
    return requests.get(f"{run.base}/v1/events?{query}", timeout=timeout,
                        headers={"Authorization": f"Bearer {TOKEN}"})


def _polls_waiting(run: Running) -> int:
    assert run.daemon.http is not None and run.daemon.http._app is not None
    polls = run.daemon.http._app.polls
    return 2 - polls._value  # type: ignore[attr-defined]


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_long_poll_wakes_at_once_and_never_skips_an_id(
        make_config: Callable[..., Path], drop: Path, tmp_path: Path) -> None:
    token = write_token(tmp_path)
    with http_daemon(make_config, {"token_file": str(token)}) as run:
        assert _get(run, "since=0").json() == {"events": [], "next": 0}
        answers: list[tuple[float, dict[str, Any]]] = []

        def poll() -> None:
            got = _get(run, "since=0&timeout=30")
            answers.append((time.time(), got.json()))

        waiter = threading.Thread(target=poll)
        waiter.start()
        wait_for(lambda: _polls_waiting(run) == 1, 10, "the long poll to wait")
        (drop / "first.jpg").write_bytes(jpeg_bytes(1000))
        waiter.join(40)
        [(arrived, body)] = answers
        [event] = body["events"]
        assert event["type"] == "file.uploaded" and body["next"] == event["id"]
        assert arrived - _epoch(event["timestamp"]) < 0.1, "woke late"
        # A client that passes `next` back meets every id once, in order.
        seen: list[int] = [event["id"]]
        since = body["next"]
        for burst in range(4):
            for i in range(5):
                (drop / f"b{burst}-{i}.jpg").write_bytes(jpeg_bytes(1000 + i))
            while len(seen) < 1 + 5 * (burst + 1):
                body = _get(run, f"since={since}&timeout=30&limit=3").json()
                seen += [e["id"] for e in body["events"]]
                since = body["next"]
    with Ledger.open(tmp_path / "ledger.db", readonly=True) as ledger:
        recorded = [e.id for e in ledger.events_after(0, 1000)]
    assert seen == recorded == list(range(1, 22))


def test_values_are_read_strictly_and_long_polls_are_bounded(
        make_config: Callable[..., Path], tmp_path: Path) -> None:
    token = write_token(tmp_path)
    with http_daemon(make_config, {"token_file": str(token)}) as run:
        assert requests.get(f"{run.base}/v1/events", timeout=10).status_code == 401
        for query in ("since=-1", "since=abc", "since=%D9%A1", "since=1e3", "timeout=61",
                      "timeout=1.5", "limit=0", "limit=1001", f"since={2**63}"):
            answer = _get(run, query)
            assert answer.status_code == 400, query
            assert "error" in answer.json() and "abc" not in answer.json()["error"]
        answers: list[int] = []

        def poll() -> None:
            answers.append(_get(run, "since=1000&timeout=60").status_code)

        waiters = [threading.Thread(target=poll) for _ in range(2)]
        for waiter in waiters:
            waiter.start()
        try:
            wait_for(lambda: _polls_waiting(run) == 2, 10, "two long polls waiting")
            third = _get(run, "since=1000&timeout=60", timeout=5)
            assert third.status_code == 503 and third.headers["Retry-After"] == "1"
            assert run.get("/healthz").status_code == 200  # the listener still answers
            began = time.monotonic()
        finally:
            run.daemon.stop_event.set()  # the daemon stops: the waiting polls answer
            run.daemon.ledger.bell.ring()
            for waiter in waiters:
                waiter.join(20)
        assert time.monotonic() - began < 5 and answers == [200, 200]


def test_ossync_events_prints_the_ledgers_events(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.db"
    with Ledger.open(ledger_path, host="cam-1") as ledger:
        ledger.record_event(service_held(host="cam-1", reasons=["the store refuses (503)"],
                                         since=now_text()))
        ledger.record_event(NewEvent("file.failed", {"path": "/d/a\nb.jpg",
                                                     "error": "AccessDenied"}, "cam"))
    out, err = io.StringIO(), io.StringIO()
    assert main(["events", "--ledger", str(ledger_path), "--nl"], out, err) == 0
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == [1, 2] and rows[1]["data"]["path"] == "/d/a\nb.jpg"
    assert set(rows[0]) == {"id", "type", "timestamp", "data"}
    out = io.StringIO()
    assert main(["events", "--ledger", str(ledger_path), "--since", "1", "--json"], out,
                err) == 0
    assert [r["id"] for r in json.loads(out.getvalue())] == [2]
    out = io.StringIO()
    assert main(["events", "--ledger", str(ledger_path)], out, err) == 0
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "service.held" in lines[0] and "the store refuses" in lines[0]
    assert "/d/a\\nb.jpg: AccessDenied" in lines[1]
    err = io.StringIO()
    assert main(["events", "--ledger", str(ledger_path), "--follow", "--json"], out, err) == 2
    assert "--nl" in err.getvalue()
    assert main(["events", "--ledger", str(ledger_path), "--since", "x"], out, err) == 2


def test_ossync_status_shows_the_deliveries(tmp_path: Path) -> None:
    ledger_path = tmp_path / "ledger.db"
    with Ledger.open(ledger_path, host="h") as ledger:
        ledger.take_cursor("app", 60.0)
        ledger.record_event(NewEvent("service.held", {"host": "h", "reasons": ["x"]}))
        ledger.delivery_failed("app", 0, "HTTP 503 busy", 10.0, 60.0)
    out = io.StringIO()
    assert main(["status", "--ledger", str(ledger_path)], out, io.StringIO()) == 0
    assert "deliveries to app: through event 0, 1 waiting" in out.getvalue()
    assert "last error: HTTP 503 busy" in out.getvalue()
    out = io.StringIO()
    assert main(["status", "--ledger", str(ledger_path), "--json"], out, io.StringIO()) == 0
    [status] = json.loads(out.getvalue())
    assert status["deliveries"][0]["endpoint"] == "app"
    assert status["deliveries"][0]["pending"] == 1


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_follow_hears_another_process_and_ends_on_ctrl_c(tmp_path: Path, backend: str,
                                                         request: pytest.FixtureRequest) -> None:
    location = str(tmp_path / "ledger.db") if backend == "sqlite" else \
        request.getfixturevalue("pg_server").new_database()
    with Ledger.open(location, host="h") as ledger:
        ledger.record_event(NewEvent("service.held", {"host": "h", "reasons": ["old"]}))
        proc = subprocess.Popen([sys.executable, "-m", "ossync", "events", "--ledger", location,
                                 "--since", "1", "--follow", "--nl"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        try:
            assert proc.stdout is not None
            lines: list[dict[str, Any]] = []
            reader = threading.Thread(target=lambda: lines.extend(
                json.loads(line) for line in iter(proc.stdout.readline, b"")))
            reader.start()
            ledger.record_event(NewEvent("service.resumed", {"host": "h", "reasons": []}))
            wait_for(lambda: lines or proc.poll() is not None, 30, "the follow to print",
                     step=0.02)
            assert [(r["id"], r["type"]) for r in lines] == [(2, "service.resumed")]
            # It waits now (it printed what there was): the next one must wake it, from
            # this other process (inotify or LISTEN), long before its own look (300 s).
            wrote = time.monotonic()
            ledger.record_event(NewEvent("service.held", {"host": "h", "reasons": ["x"]}))
            wait_for(lambda: len(lines) == 2, 30, "the follow to wake", step=0.02)
            assert time.monotonic() - wrote < 2.0 and lines[1]["id"] == 3
            proc.send_signal(signal.SIGINT)
            assert proc.wait(20) == 130
            reader.join(10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


def test_deliveries_on_metrics_and_the_status_page(make_config: Callable[..., Path],
                                                   drop: Path, tmp_path: Path) -> None:
    """Sent per endpoint, then a receiver that refuses: a backlog that ages, failures
    counted; labels are the config's endpoint names only."""
    secret = write_secret(tmp_path)
    with Receiver() as receiver:
        hooks = [{"url": receiver.url, "name": "app", "secret_file": str(secret),
                  "retry_max_delay": "1s"}]
        with http_daemon(make_config, webhooks=hooks) as run:
            for i in range(3):
                (drop / f"a{i}.jpg").write_bytes(jpeg_bytes(1000 + i))
            receiver.wait_taken(3, timeout=30)
            wait_for(lambda: _sample(run, "ossync_event_deliveries_total", endpoint="app",
                                     result="sent") == 3, 10, "3 sent on /metrics")
            assert _sample(run, "ossync_event_backlog", endpoint="app") == 0
            assert _sample(run, "ossync_event_oldest_pending_age_seconds", endpoint="app") == 0
            assert _sample(run, "ossync_event_last_id") == 3
            receiver.status = 500
            (drop / "refused.jpg").write_bytes(jpeg_bytes(5000))
            wait_for(lambda: (_sample(run, "ossync_event_deliveries_total", endpoint="app",
                                      result="failed") or 0) >= 2, 30, "failures counted")
            assert _sample(run, "ossync_event_backlog", endpoint="app") == 1
            assert (_sample(run, "ossync_event_oldest_pending_age_seconds",
                            endpoint="app") or 0) > 0
            page = run.get("/").text
            assert "<h2>Deliveries</h2>" in page and "HTTP 500" in page
            samples, _ = parse_metrics(run.get("/metrics").text)
    endpoints = {dict(labels).get("endpoint") for _, labels in samples} - {None}
    assert endpoints == {"app"}


def _sample(run: Running, name: str, **labels: str) -> float | None:
    samples, _ = parse_metrics(run.get("/metrics").text)
    return value(samples, name, **labels)
