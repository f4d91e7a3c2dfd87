"""A dead stage is a dead daemon, never a silent one: each stage of the real daemon is
killed by its failpoint, and every signal says so — the log (with the cause), STATUS=,
the systemd watchdog's pings, /healthz and /readyz — then the stage comes back, or the
daemon gives up on it and exits for its supervisor to start it again.

Failpoints armed here (ossync/core/failpoints.py): worker.loop, intake.loop,
scanner.loop, sweeper.loop, credentials.loop, queue.decided.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from ossync.core import failpoints
from ossync.localoss import LocalOSS
from ossync.service.supervise import BACKOFF, STABLE

from .daemon_helpers import config_for, daemon_thread, jpeg_bytes, uploaded_paths, wait_for
from .http_helpers import listening_at
from .notify_socket import NotifySocket
from .test_notify import pings_between, start

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def watched_config(make_config: Callable[..., Path]) -> Callable[..., Path]:
    """The daemon with its listener on a free port (for /healthz and /readyz)."""
    def make(**top: Any) -> Path:
        return make_config(http={"listen": "127.0.0.1:0"}, **top)
    return make


def _health(base: str) -> tuple[int, int]:
    return (requests.get(base + "/healthz", timeout=5).status_code,
            requests.get(base + "/readyz", timeout=5).status_code)


@pytest.mark.parametrize("stage,point,poke", [
    ("ossync-worker-0", "worker.loop", "file"),
    ("ossync-intake", "intake.loop", "file"),
    ("ossync-scanner", "scanner.loop", "start"),
    ("ossync-sweeper", "sweeper.loop", "start"),
])
def test_a_crashed_stage_turns_health_red_then_comes_back(
        watched_config: Callable[..., Path], drop: Path, tmp_path: Path,
        notify_socket: NotifySocket, stage: str, point: str, poke: str) -> None:
    log = tmp_path / "daemon.log"
    cfg = watched_config(workers=1)
    # The first hit crashes the stage once; it is restarted and goes on.
    proc = start(cfg, log, notify_socket, watchdog=2.0,
                 OSSYNC_FAILPOINTS=f"{point}=1*raise")
    try:
        ready = notify_socket.wait("READY", "1")
        base = listening_at(log)
        if poke == "file":  # a file makes the worker's and intake's loops turn
            (drop / "poke.jpg").write_bytes(jpeg_bytes(3000))
        wait_for(lambda: f"stage {stage} crashed" in log.read_text(errors="replace"), 30,
                 "the crash in the log")
        crashed = time.monotonic()
        text = log.read_text(errors="replace")
        assert f"failpoint {point}: raise" in text  # its cause
        assert "FailpointError" in text  # and its traceback, indented under it
        wait_for(lambda: any(f"stage {stage} crashed" in s
                             for s in notify_socket.values("STATUS")), 10, "STATUS=")
        assert _health(base) == (503, 503)
        assert "stage " + stage in requests.get(base + "/healthz", timeout=5).text
        # No ping while unhealthy (a second of slack for the check's own tick).
        time.sleep(1.5)
        assert not pings_between(notify_socket, crashed + 1.0, time.monotonic())
        # Restarted: green again once it has run for STABLE seconds, and work flows.
        wait_for(lambda: _health(base)[0] == 200, STABLE + 15, "healthy again")
        healthy = time.monotonic()
        wait_for(lambda: pings_between(notify_socket, healthy, time.monotonic()), 5,
                 "watchdog pings again")
        assert ready < crashed + 1.0
        (drop / "after.jpg").write_bytes(jpeg_bytes(3001))
        wait_for(lambda: str(drop / "after.jpg") in uploaded_paths(config_for(cfg).ledger),
                 30, "an upload after the restart")
        assert f"restarting stage {stage}" in log.read_text(errors="replace")
    finally:
        assert proc.stop() == 0


def test_a_stage_that_keeps_dying_is_given_up_and_the_daemon_exits(
        watched_config: Callable[..., Path], tmp_path: Path) -> None:
    """No systemd watchdog to notice: the daemon exits 70 for its supervisor to restart."""
    log = tmp_path / "daemon.log"
    proc = start(watched_config(workers=1), log, None, OSSYNC_FAILPOINTS="worker.loop=raise")
    try:
        wait_for(lambda: proc.proc.poll() is not None, sum(BACKOFF) + 30 + 30,
                 "the daemon to give up", detail=lambda: log.read_text(errors="replace"))
        assert proc.proc.returncode == 70
        text = log.read_text(errors="replace")
        assert "giving up on it" in text
        assert "exiting with status 70" in text
    finally:
        proc.stop()


def test_a_dead_credentials_refresher_turns_health_red(
        watched_config: Callable[..., Path], tmp_path: Path, notify_socket: NotifySocket,
        oss_env: dict[str, str]) -> None:
    """Rotating keys: the refresher is not restarted; its death stops the pings."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps({"AccessKeyId": oss_env["OSS_ACCESS_KEY_ID"],
                                "AccessKeySecret": oss_env["OSS_ACCESS_KEY_SECRET"]}))
    log = tmp_path / "daemon.log"
    cfg = watched_config(oss={"credentials_file": str(keys), "credential_source":
                              "credentials_file"})
    proc = start(cfg, log, notify_socket, watchdog=2.0,
                 OSSYNC_FAILPOINTS="credentials.loop=1*off->raise")
    try:
        notify_socket.wait("READY", "1")
        wait_for(lambda: any("credentials refresher thread has died" in s
                             for s in notify_socket.values("STATUS")), 15, "STATUS=")
        died = time.monotonic()
        base = listening_at(log)
        assert _health(base)[0] == 503
        time.sleep(2.5)
        assert not pings_between(notify_socket, died + 1.0, time.monotonic())
    finally:
        proc.stop()


class _Decided(logging.Handler):
    """Sets an event when a worker is in the gap between deciding to sleep and sleeping."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.hit = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if "failpoint queue.decided" in record.getMessage():
            self.hit.set()


@pytest.fixture
def decided() -> Iterator[_Decided]:
    handler = _Decided()
    logger = logging.getLogger("ossync.core.failpoints")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        failpoints.configure(None)


def test_work_noted_while_a_worker_decides_to_sleep_is_not_left_waiting(
        make_config: Callable[..., Path], drop: Path, local_oss: LocalOSS,
        decided: _Decided) -> None:
    """The lost wake-up: a worker found no due row and, before it sleeps, a file is noted.
    The failpoint holds that gap open for 3 s; the file must still go at once, not after
    the idle wait of 300 s."""
    failpoints.configure("queue.decided=sleep(3)")
    cfg = make_config(workers=1)
    with daemon_thread(config_for(cfg)):
        assert decided.hit.wait(20), "the worker never decided to sleep"
        (drop / "in-the-gap.jpg").write_bytes(jpeg_bytes(3000))
        began = time.monotonic()
        wait_for(lambda: uploaded_paths(config_for(cfg).ledger), 20, "the upload")
        assert time.monotonic() - began < 20
