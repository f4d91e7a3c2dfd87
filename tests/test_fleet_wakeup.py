"""A fleet's folder groups: a grouped folder's rows carry their group from intake on, and
another host of the group uploads a dead host's rows; a host sleeping on an empty queue
is woken by another host's new group rows (PostgreSQL LISTEN/NOTIFY) and by the moment a
dead host's lease on a group row runs out — not by the 300 s idle wait.

Failpoint armed here (ossync/core/failpoints.py): worker.loop."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ossync.ledger import FileRow, Ledger, Sighting
from ossync.ledger.waking import MAX_IDLE_WAIT
from ossync.localoss import LocalOSS
from tests.pg_server import PgServer

from .daemon_helpers import DaemonProcess, bucket, config_for, daemon_thread, jpeg_bytes, wait_for
from .queue_helpers import claim, serving

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(90)]


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    return pg_server.new_database()


@contextmanager
def _listening(ledger: Ledger) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=ledger.listen, args=(ledger.notify, stop),
                              name="test-listen")
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(10)


def _next_row_in_thread(queue: Ledger, stop: threading.Event
                        ) -> tuple[threading.Thread, list[FileRow | None], list[float]]:
    got: list[FileRow | None] = []
    when: list[float] = []

    def run() -> None:
        for _ in range(20):  # bounded: each turn either claims or sleeps until woken
            row = queue.next_row(stop)
            if row is not None or stop.is_set():
                got.append(row)
                when.append(time.monotonic())
                return

    thread = threading.Thread(target=run, name="test-worker")
    thread.start()
    return thread, got, when


def test_another_hosts_group_row_wakes_an_idle_host(pg_url: str) -> None:
    a = Ledger.open(pg_url, host="a")
    b = Ledger.open(pg_url, host="b")
    try:
        queue_b = serving(b, "share")
        with _listening(queue_b) as stop:
            time.sleep(0.5)  # the listener is connected (it wakes b once when it is)
            thread, got, when = _next_row_in_thread(queue_b, stop)
            time.sleep(1.0)
            assert thread.is_alive()  # idle: asleep on an empty queue (no group rows yet)
            noted = time.monotonic()
            a.note([Sighting("/share/new.jpg", "cam", 10, 1, 0.0, "share")])
            thread.join(10)
            assert got and got[0] is not None and got[0].path == "/share/new.jpg"
            assert when[0] - noted < 3.0 < MAX_IDLE_WAIT
    finally:
        a.close()
        b.close()


def test_rows_of_other_groups_do_not_wake_a_host(pg_url: str) -> None:
    a = Ledger.open(pg_url, host="a")
    b = Ledger.open(pg_url, host="b")
    try:
        queue_b = serving(b, "share")
        woken: list[float] = []
        real_notify = queue_b.notify

        def counting() -> None:
            woken.append(time.monotonic())
            real_notify()

        stop = threading.Event()
        thread = threading.Thread(target=b.listen, args=(counting, stop))
        thread.start()
        try:
            wait_until = time.monotonic() + 5
            while not woken and time.monotonic() < wait_until:
                time.sleep(0.05)
            assert len(woken) == 1  # once, on connecting
            a.note([Sighting("/other/x.jpg", "cam", 10, 1, 0.0, "other")])
            a.note([Sighting("/share/y.jpg", "cam", 10, 1, 0.0, "share")])
            wait_until = time.monotonic() + 5
            while len(woken) < 2 and time.monotonic() < wait_until:
                time.sleep(0.05)
            time.sleep(0.5)
            assert len(woken) == 2  # the "share" row, not the "other" one
        finally:
            stop.set()
            thread.join(10)
    finally:
        a.close()
        b.close()


def test_a_dead_hosts_lease_running_out_wakes_its_group(pg_url: str) -> None:
    a = Ledger.open(pg_url, host="a")
    b = Ledger.open(pg_url, host="b")
    try:
        a.lease = 2.0  # host a claims, then dies without renewing
        queue_a = serving(a, "share")
        queue_a.note([Sighting("/share/held.jpg", "cam", 10, 1, 0.0, "share")])
        assert claim(queue_a) is not None
        queue_b = serving(b, "share")
        stop = threading.Event()
        began = time.monotonic()
        thread, got, when = _next_row_in_thread(queue_b, stop)
        thread.join(15)
        stop.set()
        assert got and got[0] is not None and got[0].path == "/share/held.jpg"
        assert 1.0 <= when[0] - began < 6.0  # at the lease's end, not after MAX_IDLE_WAIT
    finally:
        a.close()
        b.close()


def test_a_dead_hosts_rows_of_a_grouped_folder_are_uploaded_by_another(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        pg_url: str) -> None:
    """Through intake, as a user runs it: host a scans its grouped folder (its worker
    never starts: a failpoint), dies by kill -9; host b of the same group, mounting the
    same share at the same path, uploads a's rows."""
    folder = [{"path": str(drop), "label": "share", "group": "studio"}]
    for i in range(4):
        (drop / f"shared-{i}.jpg").write_bytes(jpeg_bytes(4000 + i))
    cfg_a = make_config(watch=folder, ledger=pg_url, host="a", workers=1, name="a.yaml")
    env = {**os.environ, "OSSYNC_FAILPOINTS": "worker.loop=hang"}
    proc = DaemonProcess(cfg_a, tmp_path / "a.log", env)
    try:
        proc.wait_ready()
        wait_for(lambda: len(_rows_of(pg_url, "a")) == 4, 30, "a's sightings")
        assert {r.grp for r in _rows_of(pg_url, "a")} == {"studio"}  # the group, carried
        proc.kill()
    finally:
        proc.stop()
    cfg_b = make_config(watch=folder, ledger=pg_url, host="b", name="b.yaml")
    with daemon_thread(config_for(cfg_b)):
        wait_for(lambda: {r.state for r in _rows_of(pg_url, "a")} == {"uploaded"}, 30,
                 "a's rows uploaded by b")
    assert len(bucket(local_oss)) == 4  # each photo once


def _rows_of(location: str, host: str) -> list[FileRow]:
    with Ledger.open(location, readonly=True) as ledger:
        return [r for r in ledger.iter_files() if r.host == host]
