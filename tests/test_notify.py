"""`ossync run` talking to a service manager: the real daemon subprocess, `NOTIFY_SOCKET`
pointing at a datagram socket this test owns, the real local OSS endpoint.

READY=1 only once the daemon is up, WATCHDOG=1 at half of WATCHDOG_USEC while healthy
(and not when a worker hangs or the observer dies; still during an OSS outage),
STATUS= lines, RELOADING/READY around SIGHUP, STOPPING=1 on SIGTERM, exit 78 on a bad
config; journal-format logs with priority prefixes and no secret.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ossync.localoss import LocalOSS
from ossync.service.health import ProgressTracker, stall_limit, thread_io
from ossync.service.sdnotify import Notifier, socket_address, watchdog_interval

from .conftest import SECRET
from .daemon_helpers import (
    DaemonProcess,
    config_for,
    file_states,
    jpeg_bytes,
    uploaded_paths,
    wait_for,
)
from .notify_socket import NotifySocket

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
HANG_FILE = "stuck.jpg"
# The failpoints (ossync/core/failpoints.py) these tests arm: worker.process, intake.event;
# a value inherited from the caller's environment is dropped.
FAILPOINTS = "OSSYNC_FAILPOINTS"


@pytest.fixture
def abstract_socket() -> Iterator[NotifySocket]:
    sock = NotifySocket(f"@ossync-test-notify-{os.getpid()}-{time.monotonic_ns()}")
    try:
        yield sock
    finally:
        sock.close()


@pytest.fixture
def make_config(write_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
                oss_env: dict[str, str]) -> Callable[..., Path]:
    def make(endpoint: str | None = None, oss: dict[str, Any] | None = None,
             **top: Any) -> Path:
        top.setdefault("watch", [{"path": str(drop), "label": "drop"}])
        top.setdefault("settle_seconds", 0.3)
        top.setdefault("date_source", "mtime")
        # Short request timeouts: a worker counts as stuck after max(4 × (1 s), 5 s) = 5 s.
        oss = {"connect_timeout": "500ms", "read_timeout": "500ms", **(oss or {})}
        return write_config(endpoint or local_oss.endpoint, oss=oss, **top)
    return make


def start(cfg: Path, log: Path, notify: NotifySocket | None, watchdog: float | None = None,
          **env: str) -> DaemonProcess:
    environ = {k: v for k, v in os.environ.items() if k not in (
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", FAILPOINTS)}
    environ.update(env)
    if notify is not None:
        environ["NOTIFY_SOCKET"] = notify.address
    if watchdog is not None:
        environ["WATCHDOG_USEC"] = str(int(watchdog * 1_000_000))
    return DaemonProcess(cfg, log, environ)


def pings_between(notify: NotifySocket, start: float, end: float) -> list[float]:
    return [t for t in notify.times("WATCHDOG", "1") if start <= t <= end]


def test_ready_comes_once_up_and_a_file_dropped_right_after_is_uploaded(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    cfg = make_config()
    log = tmp_path / "daemon.log"
    proc = start(cfg, log, notify_socket)
    try:
        notify_socket.wait("READY", "1")
        assert b"watching 1 folder(s)" in log.read_bytes()  # logged just before READY
        (drop / "right-after-ready.jpg").write_bytes(jpeg_bytes(4000))
        ledger = config_for(cfg).ledger
        wait_for(lambda: uploaded_paths(ledger), 20, "the upload")
        assert uploaded_paths(ledger) == {str(drop / "right-after-ready.jpg")}
        # STATUS= lines carry the queue and upload counts; they follow the work.
        wait_for(lambda: any("1 uploaded (1 since start)" in s
                             for s in notify_socket.values("STATUS")), 15, "STATUS update")
        assert all("queued" in s and "failed" in s for s in notify_socket.values("STATUS"))
        assert not notify_socket.times("WATCHDOG")  # no WATCHDOG_USEC, no pings
        term_sent = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        notify_socket.wait("STOPPING", "1", after=term_sent)
        assert proc.proc.wait(30) == 0
    finally:
        proc.stop()
    ready = notify_socket.times("READY", "1")
    assert len(ready) == 1 and ready[0] < notify_socket.times("STOPPING", "1")[0]


def test_watchdog_pings_at_half_the_interval_on_an_abstract_socket(
    make_config: Callable[..., Path], tmp_path: Path, abstract_socket: NotifySocket
) -> None:
    proc = start(make_config(), tmp_path / "daemon.log", abstract_socket, watchdog=1.0)
    try:
        ready = abstract_socket.wait("READY", "1")
        time.sleep(3.2)
        pings = pings_between(abstract_socket, ready, ready + 3.0)
        assert 5 <= len(pings) <= 8, pings  # every 0.5 s
        gaps = [b - a for a, b in itertools.pairwise(pings)]
        assert 0.35 <= statistics.median(gaps) <= 0.65, gaps
        assert not [t for t in abstract_socket.times("WATCHDOG") if t < ready]
    finally:
        assert proc.stop() == 0


def test_pings_stop_when_a_worker_hangs(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    cfg = make_config()
    log = tmp_path / "daemon.log"
    # The first row a worker takes goes through; every later one hangs.
    proc = start(cfg, log, notify_socket, watchdog=1.0,
                 OSSYNC_FAILPOINTS="worker.process=1*off->hang")
    try:
        notify_socket.wait("READY", "1")
        # Moved in whole, so the worker takes it once (a half-written file is put back).
        (tmp_path / "fine.jpg").write_bytes(jpeg_bytes(4000))
        (tmp_path / "fine.jpg").rename(drop / "fine.jpg")
        wait_for(lambda: uploaded_paths(config_for(cfg).ledger), 20, "a normal upload")
        (drop / HANG_FILE).write_bytes(jpeg_bytes(4000))
        wait_for(lambda: b"failpoint worker.process: hang" in log.read_bytes(), 20,
                 "the worker to hang")
        hung = time.monotonic()
        wait_for(lambda: any(s.startswith("unhealthy") for s in notify_socket.values("STATUS")),
                 15, "an unhealthy STATUS")
        stopped = notify_socket.times("STATUS")[-1]
        # Healthy until the stall limit (5 s here), then no pings at all.
        assert pings_between(notify_socket, hung, hung + 4.0)
        time.sleep(2.5)
        assert not pings_between(notify_socket, stopped + 0.1, time.monotonic())
        assert b"has made no progress on " + str(drop / HANG_FILE).encode() in log.read_bytes()
        term_sent = time.monotonic()
        proc.proc.send_signal(signal.SIGTERM)
        notify_socket.wait("STOPPING", "1", after=term_sent)
        assert proc.proc.wait(30) == 0  # the failpoint lets go at shutdown
    finally:
        proc.stop()


def test_pings_stop_when_the_observer_dies(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    log = tmp_path / "daemon.log"
    log.touch()
    st = log.stat()
    proc = start(make_config(), log, notify_socket, watchdog=1.0,
                 OSSYNC_FAILPOINTS="intake.event=raise", JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    try:
        ready = notify_socket.wait("READY", "1")
        time.sleep(1.2)
        assert len(pings_between(notify_socket, ready, time.monotonic())) >= 2
        (drop / HANG_FILE).write_bytes(jpeg_bytes(4000))
        wait_for(lambda: any("observer thread has died" in s
                             for s in notify_socket.values("STATUS")), 10, "unhealthy STATUS")
        died = notify_socket.times("STATUS")[-1]
        time.sleep(2.0)
        assert not pings_between(notify_socket, died + 0.1, time.monotonic())
    finally:
        assert proc.stop() == 0
    # The thread's death is logged, every line of its traceback at critical priority.
    lines = log.read_text().splitlines()
    assert "<2>ossync.service.health: thread" in "\n".join(lines)
    assert any(line.startswith("<2>    ossync.core.failpoints.FailpointError: "
                               "failpoint intake.event: raise") for line in lines), lines
    assert all(line[:3] in ("<2>", "<3>", "<4>", "<6>") for line in lines), lines


def test_pings_go_on_while_the_endpoint_is_down(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    # A black hole: connections are accepted by the kernel, no answer ever comes, so
    # every attempt runs into the read timeout and the workers back off and retry.
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(64)
    endpoint = f"http://127.0.0.1:{hole.getsockname()[1]}"
    cfg = make_config(endpoint=endpoint, retry_initial_delay="200ms", retry_max_delay="1s")
    log = tmp_path / "daemon.log"
    proc = start(cfg, log, notify_socket, watchdog=2.0)
    try:
        notify_socket.wait("READY", "1")
        for i in range(6):
            (drop / f"outage-{i}.jpg").write_bytes(jpeg_bytes(4000 + i))
        begin = time.monotonic()
        time.sleep(8.0)  # longer than the 5 s stall limit
        pings = pings_between(notify_socket, begin, time.monotonic())
        gaps = [b - a for a, b in itertools.pairwise([begin, *pings, time.monotonic()])]
        assert len(pings) >= 6 and max(gaps) < 2.0, gaps  # systemd would not have fired
        assert log.read_bytes().count(b"failed, retrying in") >= 6
        assert not uploaded_paths(config_for(cfg).ledger)
        assert not any(s.startswith("unhealthy") for s in notify_socket.values("STATUS"))
    finally:
        assert proc.stop() == 0
        hole.close()


def test_sighup_adds_a_folder_and_keeps_queued_work(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path, notify_socket: NotifySocket
) -> None:
    second = tmp_path / "second"
    second.mkdir()
    slow = {"path": str(drop), "label": "drop", "settle_seconds": 3}  # queued at reload time
    cfg = make_config(watch=[slow])
    proc = start(cfg, tmp_path / "daemon.log", notify_socket, watchdog=2.0)
    ledger = config_for(cfg).ledger
    try:
        notify_socket.wait("READY", "1")
        for i in range(5):
            (drop / f"queued-{i}.jpg").write_bytes(jpeg_bytes(4000 + i))
        wait_for(lambda: len(file_states(ledger)) == 5, 10, "five queued rows")
        assert not uploaded_paths(ledger)
        make_config(watch=[slow, {"path": str(second), "label": "second"}])
        hup_sent = time.monotonic()
        proc.proc.send_signal(signal.SIGHUP)
        reloading = notify_socket.wait("RELOADING", "1", after=hup_sent)
        notify_socket.wait("READY", "1", after=reloading)
        assert any("watching 2 folder(s)" in s for s in notify_socket.values("STATUS"))
        (second / "new-folder.jpg").write_bytes(jpeg_bytes(5000))
        expected = {str(drop / f"queued-{i}.jpg") for i in range(5)} | {
            str(second / "new-folder.jpg")}
        wait_for(lambda: uploaded_paths(ledger) == expected, 30, "queued and new files")
    finally:
        assert proc.stop() == 0


def test_bad_config_exits_78_without_ready(
    tmp_path: Path, notify_socket: NotifySocket, oss_env: dict[str, str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("oss: {endpoint: nope}\nworkers: 0\nwatch: [{path: /no/such/dir}]\n")
    log = tmp_path / "bad.log"
    log.touch()
    st = log.stat()
    proc = start(bad, log, notify_socket, watchdog=1.0,
                 JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
    assert proc.proc.wait(30) == 78
    proc.stop()
    time.sleep(0.2)
    assert not notify_socket.messages
    lines = log.read_text().splitlines()
    assert lines[0].startswith("<3>ossync: bad config")
    assert "<3>  workers: must be a whole number of at least 1, not 0" in lines


def test_journal_format_has_priorities_and_never_the_secret(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path
) -> None:
    # The daemon's secret is not the endpoint's, so its uploads are refused (an error);
    # at debug level nothing it logs, about requests or anything else, names the secret.
    wrong = "wrong-secret-" + SECRET[::-1]
    cfg = make_config()
    log = tmp_path / "journal.log"
    log.touch()
    st = log.stat()
    env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}",
           "OSS_ACCESS_KEY_SECRET": wrong}
    with log.open("ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "ossync", "run", "-c", str(cfg),
                                 "--log-level", "debug"], stdout=out, stderr=out, env=env)
    try:
        wait_for(lambda: b"watching" in log.read_bytes(), 30, "daemon start")
        (drop / "good.jpg").write_bytes(jpeg_bytes(4000))
        (drop / "empty.jpg").write_bytes(b"")
        wait_for(lambda: b"failed " in log.read_bytes(), 20, "the refused upload")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    text = log.read_text()
    assert wrong not in text and SECRET not in text
    lines = [line for line in text.splitlines() if line]
    assert lines and all(line[:3] in ("<3>", "<4>", "<6>", "<7>") for line in lines), lines
    assert any(line.startswith("<3>ossync.upload.worker: failed ") for line in lines)
    assert any(line.startswith("<6>ossync.service.daemon: watching") for line in lines)
    assert any(line.startswith("<7>") for line in lines)
    assert not any(line[3:7].isdigit() for line in lines)  # no time stamps of our own

    # JOURNAL_STREAM naming another stream (inherited from a parent): human lines.
    other = tmp_path / "human.log"
    human = DaemonProcess(cfg, other, {**env, "JOURNAL_STREAM": "1:1"})
    try:
        human.wait_ready()
    finally:
        assert human.stop() == 0
    assert not other.read_text().startswith("<")


# --- the pieces on their own ---------------------------------------------------------

def test_notify_socket_addresses_and_watchdog_interval() -> None:
    assert socket_address("/run/systemd/notify") == "/run/systemd/notify"
    assert socket_address("@abstract/name") == b"\0abstract/name"
    assert socket_address("relative") is None and socket_address(None) is None
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}) is None
    mine = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval(mine) == 0.5
    assert watchdog_interval({}) is None and watchdog_interval({"WATCHDOG_USEC": "x"}) is None
    quiet = Notifier.from_env({})
    assert not quiet.enabled and not quiet.ready("x") and not quiet.watchdog()


def test_notifier_sends_one_datagram_per_message(abstract_socket: NotifySocket) -> None:
    notifier = Notifier.from_env({"NOTIFY_SOCKET": abstract_socket.address})
    try:
        assert notifier.ready("two\nlines") and notifier.watchdog()
        abstract_socket.wait("WATCHDOG", "1", timeout=5)
    finally:
        notifier.close()
    first, second = [fields for _, fields in abstract_socket.messages]
    assert first == [("READY", "1"), ("STATUS", "two lines")] and second == [("WATCHDOG", "1")]


def test_a_slow_big_upload_is_not_stuck_but_a_silent_worker_is() -> None:
    assert stall_limit(10, 60) == 280  # the defaults
    now = [1000.0]
    counters: dict[str, int | None] = {"w-big": 0, "w-silent": 0, "w-unknown": None}
    threads = {name: threading.Thread(name=name) for name in counters}  # never started
    tracker = ProgressTracker(stall_limit(1, 1), read_io=lambda t: counters[t.name],
                              clock=lambda: now[0])
    busy = dict.fromkeys(counters, 1000.0)
    files = {name: (f"/{name}.jpg", 5 * 1024**3) for name in counters}
    problems: list[str] = []
    for _ in range(600):  # ten minutes of a 5 GB upload trickling out 8 KiB a second
        now[0] += 1.0
        counters["w-big"] = int(counters["w-big"] or 0) + 8192
        problems = tracker.stuck(busy, files, threads)
    assert not any("w-big" in p for p in problems)
    assert any(p.startswith("w-silent has made no progress on /w-silent.jpg") for p in problems)
    assert not any("w-unknown" in p for p in problems)  # no counter: the size's slow rate
    now[0] += 5 * 1024**3 / 65536  # ... which runs out too
    assert any("w-unknown" in p for p in tracker.stuck(busy, files, threads))
    assert not tracker.stuck({"w-big": now[0]}, files, threads)  # a new file starts afresh


def test_thread_io_counts_what_this_thread_reads(tmp_path: Path) -> None:
    before = thread_io(threading.current_thread())
    assert before is not None
    (tmp_path / "x").write_bytes(b"x" * 100_000)
    (tmp_path / "x").read_bytes()
    after = thread_io(threading.current_thread())
    assert after is not None and after >= before + 200_000
