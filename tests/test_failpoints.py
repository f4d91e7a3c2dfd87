"""ossync/core/failpoints.py: the variable's syntax, unknown names and bad actions
rejected, each action, the default no-op, and the two points where the product has them
(worker.process in the daemon, intake.event in the watcher; test_notify and test_nspawn
arm them against the real daemon).
"""

from __future__ import annotations

import ast
import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ossync.config import WatchConfig
from ossync.core import failpoints
from ossync.core.failpoints import ENV, POINTS, FailpointError
from ossync.intake.watcher import Watcher

from .daemon_helpers import wait_for

SRC = Path(__file__).resolve().parent.parent / "ossync"
WAIT = 5.0  # bound on every wait here


@pytest.fixture(autouse=True)
def disarmed() -> Iterator[None]:
    failpoints.configure(None)
    yield
    failpoints.load_env()  # back to whatever the environment says


def in_thread(name: str, stop: threading.Event | None) -> tuple[threading.Thread, list[bool]]:
    result: list[bool] = []
    thread = threading.Thread(target=lambda: result.append(failpoints.hit(name, stop)),
                              daemon=True)
    thread.start()
    return thread, result


# --- the variable ------------------------------------------------------------------


def test_unset_or_empty_arms_nothing_and_every_point_is_a_no_op() -> None:
    for environ in ({}, {ENV: ""}, {ENV: " ; "}):
        failpoints.load_env(environ)
        assert failpoints.active() == {}
        assert failpoints._points == {}  # the hot path's one check
        stop = threading.Event()  # never set: a hang would block
        assert [failpoints.hit(name, stop) for name in POINTS] == [False] * len(POINTS)


def test_the_variable_names_points_and_their_terms() -> None:
    failpoints.load_env({ENV: " worker.process = hang ; intake.event=1*off->raise;"})
    assert failpoints.active() == {"worker.process": "hang", "intake.event": "1*off->raise"}
    terms = failpoints._points["intake.event"].terms
    assert [(t.action, t.count) for t in terms] == [("off", 1), ("raise", None)]
    failpoints.configure("worker.process=2*sleep(0.25)->off")
    assert [(t.action, t.count, t.seconds) for t in failpoints._points["worker.process"].terms
            ] == [("sleep", 2, 0.25), ("off", None, 0.0)]


@pytest.mark.parametrize(("spec", "message"), [
    ("worker.proces=hang", "unknown failpoint 'worker.proces' (known: worker.process, "
                           "intake.event, worker.loop"),
    ("worker.process=hang;observer=raise", "unknown failpoint 'observer'"),
    ("worker.process=explode", "unknown action 'explode' (known: off, hang, raise, sleep)"),
    ("worker.process", "'worker.process' is not NAME=ACTION"),
    ("worker.process=", "is not NAME=ACTION"),
    ("worker.process=sleep", "sleep needs seconds"),
    ("worker.process=sleep(soon)", "sleep needs seconds"),
    ("worker.process=sleep(-1)", "sleep needs seconds"),
    ("worker.process=hang(3)", "hang takes no argument"),
    ("worker.process=0*hang", "COUNT must be 1 or more"),
    ("worker.process=hang->", "cannot read the term ''"),
    ("worker.process=hang;worker.process=raise", "'worker.process' is set twice"),
])
def test_bad_values_are_rejected_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="OSSYNC_FAILPOINTS") as caught:
        failpoints.configure(spec)
    assert message in str(caught.value)
    assert failpoints.active() == {}


def test_a_rejected_variable_arms_nothing_and_says_why_once(
        caplog: pytest.LogCaptureFixture) -> None:
    failpoints.load_env({ENV: "worker.process=hang;intake.evnt=raise"})
    assert failpoints.active() == {}
    assert failpoints.hit("worker.process", threading.Event()) is False
    with caplog.at_level(logging.WARNING, "ossync.core.failpoints"):
        failpoints.announce()
        failpoints.announce()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", "OSSYNC_FAILPOINTS rejected, no failpoint is armed: OSSYNC_FAILPOINTS: "
                  "unknown failpoint 'intake.evnt' (known: " + ", ".join(failpoints.POINTS) + ")")]


def test_armed_points_are_announced_once(caplog: pytest.LogCaptureFixture) -> None:
    failpoints.configure("intake.event=1*raise")
    with caplog.at_level(logging.WARNING, "ossync.core.failpoints"):
        with pytest.raises(FailpointError):
            failpoints.hit("intake.event")  # the first hit announces
        failpoints.announce()
        failpoints.hit("intake.event")
    assert [r.getMessage() for r in caplog.records] == [
        "failpoints armed (OSSYNC_FAILPOINTS=intake.event=1*raise): faults are injected on "
        "purpose; never set it in production"]


def test_nothing_is_announced_when_nothing_is_armed(caplog: pytest.LogCaptureFixture) -> None:
    failpoints.load_env({})
    with caplog.at_level(logging.DEBUG, "ossync.core.failpoints"):
        failpoints.announce()
    assert caplog.records == []


# --- the actions -------------------------------------------------------------------


def test_raise_raises_a_runtime_error_naming_the_point() -> None:
    failpoints.configure("intake.event=raise")
    with pytest.raises(RuntimeError, match=r"^failpoint intake\.event: raise$") as caught:
        failpoints.hit("intake.event")
    assert isinstance(caught.value, FailpointError)
    assert failpoints.hit("worker.process") is False  # other points stay off


def test_hang_blocks_until_the_stop_event_then_says_abandon() -> None:
    failpoints.configure("worker.process=hang")
    stop = threading.Event()
    thread, result = in_thread("worker.process", stop)
    time.sleep(0.2)
    assert thread.is_alive() and result == []  # still hanging
    stop.set()
    thread.join(WAIT)
    assert not thread.is_alive()
    assert result == [True]
    assert failpoints.hit("worker.process", stop) is True  # already set: at once


def test_counts_and_chains_use_terms_up_in_order() -> None:
    failpoints.configure("worker.process=2*off->1*raise")
    stop = threading.Event()
    assert failpoints.hit("worker.process", stop) is False
    assert failpoints.hit("worker.process", stop) is False
    with pytest.raises(FailpointError):
        failpoints.hit("worker.process", stop)
    assert failpoints.hit("worker.process", stop) is False  # used up: off
    failpoints.configure("worker.process=1*off->hang")
    assert failpoints.hit("worker.process", stop) is False
    thread, result = in_thread("worker.process", stop)
    thread.join(0.2)
    assert thread.is_alive()
    stop.set()
    thread.join(WAIT)
    assert result == [True]


def test_counts_hold_across_threads() -> None:
    failpoints.configure("intake.event=50*raise")
    raised: list[int] = []

    def hammer() -> None:
        for _ in range(40):
            try:
                failpoints.hit("intake.event")
            except FailpointError:
                raised.append(1)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    assert len(raised) == 50


def test_sleep_pauses_and_goes_on_or_is_cut_short_by_stop() -> None:
    failpoints.configure("worker.process=sleep(0.2)")
    began = time.monotonic()
    assert failpoints.hit("worker.process") is False
    assert 0.18 <= time.monotonic() - began < WAIT
    stop = threading.Event()
    thread, result = in_thread("worker.process", stop)
    stop.set()
    thread.join(WAIT)
    assert result == [True]


# --- the points in the product -----------------------------------------------------


def _hits_in_product() -> dict[str, list[str]]:
    sites: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "hit" and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "failpoints"):
                arg = node.args[0] if node.args else None
                name = arg.value if isinstance(arg, ast.Constant) else repr(arg)
                sites.setdefault(str(name), []).append(f"{path.relative_to(SRC.parent)}")
    return sites


def test_every_point_has_one_call_site_and_every_site_a_known_name() -> None:
    sites = _hits_in_product()
    assert sites == {"worker.process": ["ossync/service/work_stages.py"],
                     "intake.event": ["ossync/intake/watcher.py"],
                     "worker.loop": ["ossync/service/work_stages.py"],
                     "intake.loop": ["ossync/service/intake_stages.py"],
                     "scanner.loop": ["ossync/service/intake_stages.py"],
                     "sweeper.loop": ["ossync/upload/sweep.py"],
                     "credentials.loop": ["ossync/credentials/rotating.py"],
                     "queue.decided": ["ossync/ledger/waking.py"],
                     "worker.pinned": ["ossync/upload/worker.py"],
                     "worker.hashed": ["ossync/upload/worker.py"],
                     "worker.posted": ["ossync/upload/worker.py"],
                     "worker.sent": ["ossync/upload/worker.py"],
                     "outbox.loop": ["ossync/outbox/sender.py"],
                     "heartbeat.loop": ["ossync/outbox/heartbeat.py"],
                     # each backend hears other processes its own way
                     "events.watch": ["ossync/ledger/postgres/ledger.py",
                                      "ossync/ledger/sqlite/ledger.py"]}
    assert set(sites) == set(POINTS)


def _watch(folder: Path) -> tuple[Watcher, queue.Queue[tuple[WatchConfig, str] | None]]:
    paths: queue.Queue[tuple[WatchConfig, str] | None] = queue.Queue()
    watcher = Watcher(paths, lambda *_: None, lambda: None)
    watcher.start((WatchConfig(path=folder, label="drop"),))
    return watcher, paths


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_raise_at_intake_event_ends_the_observer_thread(tmp_path: Path) -> None:
    """watchdog catches nothing around a handler: the raise ends the observer thread,
    which the health check reports (`Watcher.alive()`)."""
    failpoints.configure("intake.event=raise")
    watcher, paths = _watch(tmp_path)
    try:
        assert watcher.alive()
        (tmp_path / "a.jpg").write_bytes(b"x")
        wait_for(lambda: not watcher.alive(), WAIT, "the observer thread to die")
        assert paths.empty()
    finally:
        watcher.stop()


def test_hang_at_intake_event_lets_go_when_the_watcher_stops(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    failpoints.configure("intake.event=1*hang")
    watcher, _ = _watch(tmp_path)
    observers = list(watcher._observers.values())
    with caplog.at_level(logging.WARNING, "ossync.core.failpoints"):
        (tmp_path / "a.jpg").write_bytes(b"x")
        wait_for(lambda: "failpoint intake.event: hang" in caplog.text, WAIT, "the hang")
    began = time.monotonic()
    watcher.stop()
    assert time.monotonic() - began < WAIT
    assert not any(o.is_alive() for o in observers)


def test_without_failpoints_the_watcher_passes_events_on(tmp_path: Path) -> None:
    watcher, paths = _watch(tmp_path)
    try:
        (tmp_path / "a.jpg").write_bytes(b"x")
        item = paths.get(timeout=WAIT)
        assert item is not None and item[1] == str(tmp_path / "a.jpg")
        assert watcher.alive()
    finally:
        watcher.stop()
