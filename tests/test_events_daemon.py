"""The daemon tells apps of every upload: signed webhooks that a receiver on 127.0.0.1
checks with the Standard Webhooks library, on both ledgers; retries with the same ids;
nothing lost to kill -9; the on_upload hook without a shell; the heartbeat only while
healthy; a fleet of two hosts delivering each event once."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ossync.config import load_config
from ossync.ledger import Ledger
from tests.daemon_helpers import (
    DaemonProcess,
    daemon_thread,
    jpeg_bytes,
    uploaded_paths,
    wait_for,
)
from tests.webhook_receiver import PingServer, Receiver, types_of, write_secret

from .conftest import ACCESS_KEY_ID, SECRET


def _drop(folder: Path, count: int, prefix: str = "img") -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"{prefix}-{i:03d}.jpg"
        path.write_bytes(jpeg_bytes(2000 + i))
        paths.append(path)
    return paths


def _events(location: str | Path, kind: str = "file.uploaded") -> dict[int, dict[str, Any]]:
    with Ledger.open(location, readonly=True) as ledger:
        return {e.id: json.loads(e.data) for e in ledger.events_after(0, 100_000)
                if e.type == kind}


def _hook(receiver: Receiver, secret: Path, **extra: Any) -> dict[str, Any]:
    return {"url": receiver.url, "name": "app", "secret_file": str(secret),
            "retry_max_delay": "1s", **extra}


def test_every_upload_reaches_the_receiver_signed(make_config: Callable[..., Path],
                                                  drop: Path, tmp_path: Path,
                                                  ledger_at: str) -> None:
    """The first attempts are refused: every event still arrives, in order, each retry
    with the event's id, every signature valid by the reference library."""
    secret = write_secret(tmp_path)
    with Receiver(fail_first=3) as receiver:
        config = load_config(make_config(ledger=ledger_at,
                                         webhooks=[_hook(receiver, secret)]))
        with daemon_thread(config):
            paths = _drop(drop, 5)
            taken = receiver.wait_taken(5, timeout=60)
        events = _events(ledger_at)
    assert all(a.verified for a in receiver.attempts)
    assert [int(a.msg_id) for a in taken] == sorted(events)  # every one, in order, once
    assert len({a.msg_id for a in receiver.attempts}) == 5  # retries kept their ids
    assert len(receiver.attempts) == 8
    assert types_of(taken) == ["file.uploaded"] * 5
    got = {a.payload["data"]["path"] for a in taken if a.payload}
    assert got == {str(p) for p in paths} == uploaded_paths(ledger_at)
    first = taken[0].payload
    assert first is not None and first["data"] == events[int(taken[0].msg_id)]
    assert first["data"]["url"].startswith("http") and first["data"]["size"] > 2000


def test_kill_9_mid_delivery_loses_nothing(make_config: Callable[..., Path], drop: Path,
                                           tmp_path: Path, oss_env: dict[str, str]) -> None:
    """The daemon dies (SIGKILL) while deliveries are under way; started again, it
    delivers the rest. Every event arrives; one may arrive twice, with its own id."""
    secret = write_secret(tmp_path)
    with Receiver(delay=0.2) as receiver:
        path = make_config(webhooks=[_hook(receiver, secret)])
        env = {**os.environ, **oss_env}
        log = tmp_path / "daemon.log"
        first = DaemonProcess(path, log, env)
        try:
            first.wait_ready()
            _drop(drop, 20)
            receiver.wait_taken(3, timeout=60)
            first.kill()
        finally:
            first.stop()
        assert len(receiver.taken()) < 20, "all delivered before the kill: nothing tested"
        _drop(drop, 5, prefix="late")
        second = DaemonProcess(path, log, env)
        try:
            second.wait_ready()
            ledger = tmp_path / "ledger.db"
            wait_for(lambda: len(_events(ledger)) == 25, 60, "25 uploads recorded")
            receiver.wait(lambda r: {int(a.msg_id) for a in r.taken()} >= set(_events(ledger)),
                          60, "every event delivered")
        finally:
            assert second.stop() == 0
    events = _events(tmp_path / "ledger.db")
    by_path: dict[str, set[str]] = {}
    for attempt in receiver.taken():
        assert attempt.verified and attempt.payload is not None
        by_path.setdefault(attempt.payload["data"]["path"], set()).add(attempt.msg_id)
    assert len(by_path) == 25 and all(len(ids) == 1 for ids in by_path.values())
    assert {int(a.msg_id) for a in receiver.taken()} == set(events)
    assert len(receiver.taken()) <= 26  # at most the one in flight at the kill, again


def test_on_upload_runs_without_a_shell(make_config: Callable[..., Path], drop: Path,
                                        tmp_path: Path) -> None:
    record = tmp_path / "argv.jsonl"
    pwned = Path("/ossync-test-pwned")  # the hook runs in /: where a shell would touch it
    script = tmp_path / "hook.py"
    script.write_text("import json, sys\n"
                      f"open({str(record)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                      "print('done with', sys.argv[1])\n")
    name = f"$(touch {pwned.name}); echo `id`>{pwned.name} & x.jpg"
    config = load_config(make_config(on_upload=[sys.executable, str(script), "{path}",
                                                "{key}", "{url}", "{sha256}"]))
    with daemon_thread(config):
        (drop / name).write_bytes(jpeg_bytes(3000))
        wait_for(record.exists, 30, "the hook to run")
        wait_for(lambda: _events(tmp_path / "ledger.db") and Ledger.open(
            tmp_path / "ledger.db", readonly=True).deliveries()[0].sent == 1, 30,
            "the delivery recorded")
    [argv] = [json.loads(line) for line in record.read_text().splitlines()]
    [event] = _events(tmp_path / "ledger.db").values()
    assert argv == [str(drop / name), event["key"], event["url"], event["sha256"]]
    assert not pwned.exists()


def _keys(path: Path, hours: float) -> None:
    moment = datetime.now(timezone.utc) + timedelta(hours=hours)
    path.write_text(json.dumps({"AccessKeyId": ACCESS_KEY_ID, "AccessKeySecret": SECRET,
                                "Expiration": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}))


@pytest.mark.slow
def test_the_heartbeat_goes_while_healthy_and_not_while_held(
        make_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keys that expired an hour ago hold uploads: no ping (a service.held event says
    why); fresh ones in the file end the hold (service.resumed) and the pings begin."""
    monkeypatch.delenv("OSS_ACCESS_KEY_ID")
    monkeypatch.delenv("OSS_ACCESS_KEY_SECRET")
    keys = tmp_path / "keys.json"
    _keys(keys, hours=-1)
    with PingServer() as checks:
        config = load_config(make_config(oss={"credentials_file": str(keys)},
                                         heartbeat_url=checks.url, heartbeat_interval="10s"))
        with daemon_thread(config) as daemon:
            beat = daemon.events.heartbeat
            assert beat is not None
            wait_for(lambda: beat.withheld >= 1, 30, "a heartbeat withheld")
            wait_for(lambda: _events(tmp_path / "ledger.db", "service.held"), 30,
                     "the hold recorded")
            assert beat.sent == 0 and not checks.pings
            _keys(keys, hours=1)
            wait_for(lambda: not daemon.hold_problems(), 60, "the hold to end")
            wait_for(lambda: checks.pings, 30, "a ping")
            assert beat.sent >= 1
    kinds = _events(tmp_path / "ledger.db", "service.held")
    assert kinds and "no valid credentials" in next(iter(kinds.values()))["reasons"][0]
    assert _events(tmp_path / "ledger.db", "service.resumed")


def test_the_heartbeat_goes_at_once_while_healthy(make_config: Callable[..., Path]) -> None:
    with PingServer() as checks:
        config = load_config(make_config(heartbeat_url=checks.url))
        with daemon_thread(config):
            wait_for(lambda: checks.pings, 30, "a ping")


@pytest.mark.postgres
def test_two_hosts_on_one_postgresql_deliver_each_event_once(
        make_config: Callable[..., Path], tmp_path: Path, pg_server: Any) -> None:
    """Hosts a and b, each with a folder of its own, one ledger and one endpoint: the
    receiver gets every event of both exactly once. When the host holding the endpoint
    stops, the other takes over for the events that follow."""
    url = pg_server.new_database()
    secret = write_secret(tmp_path)
    folders = {host: tmp_path / f"drop-{host}" for host in ("a", "b")}
    with Receiver() as receiver, ExitStack() as running:
        daemons = {}
        for host, folder in folders.items():
            folder.mkdir()
            config = load_config(make_config(
                name=f"{host}.yaml", ledger=url, host=host,
                watch=[{"path": str(folder), "label": host}],
                webhooks=[_hook(receiver, secret)]))
            stack = ExitStack()
            daemons[host] = (stack, stack.enter_context(daemon_thread(config)))
            running.push(stack)
        for host, folder in folders.items():
            _drop(folder, 10, prefix=host)
        receiver.wait_taken(20, timeout=60)
        with Ledger.open(url, readonly=True) as ledger:
            holder = ledger.deliveries()[0].claimed_by
        assert holder in folders
        other = "b" if holder == "a" else "a"
        daemons[holder][0].close()  # a clean stop lets go of the endpoint
        _drop(folders[other], 5, prefix=f"{other}-late")
        receiver.wait_taken(25, timeout=60)
        with Ledger.open(url, readonly=True) as ledger:
            events = _events(url)
            [row] = ledger.deliveries()
    assert len(events) == 25 and all(a.verified for a in receiver.attempts)
    assert sorted(int(a.msg_id) for a in receiver.attempts) == sorted(events)  # once each
    assert receiver.taken_ids() == sorted(events)  # in order
    assert {e["host"] for e in events.values()} == {"a", "b"}
    assert row.sent == 25 and row.claimed_by in (other, None)
