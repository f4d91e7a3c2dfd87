"""The daemon end to end: real watchdog observer on real folders, real SQLite, real local
OSS endpoint over HTTP; the daemon as a subprocess where crashes and restarts matter."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import ossync.upload.prepare
from ossync.core.credentials import Credentials
from ossync.ledger import Ledger, Sighting
from ossync.localoss import LocalOSS
from ossync.targets import UploadResult

from .conftest import BUCKET, REGION
from .daemon_helpers import (
    DaemonProcess,
    bucket,
    config_for,
    daemon_thread,
    file_states,
    jpeg_bytes,
    uploaded_paths,
    uploads,
    wait_for,
)
from .queue_helpers import claim, record

pytestmark = pytest.mark.timeout(240)


def _ledger(path: Path) -> Path:
    return config_for(path).ledger


def test_two_hundred_files_at_once(make_config: Callable[..., Path], local_oss: LocalOSS,
                                   drop: Path) -> None:
    cfg = make_config()
    payloads = {f"IMG_{i:04d}.jpg": jpeg_bytes(5_000 + i) for i in range(200)}
    with daemon_thread(config_for(cfg)):
        for name, data in payloads.items():
            (drop / name).write_bytes(data)
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 200, 120, "200 uploads")
    rows = uploads(_ledger(cfg))
    assert len(rows) == 200
    assert len({r.key for r in rows}) == 200
    today = date.today().strftime("%Y/%m/%d")
    objects = bucket(local_oss)
    assert len(objects) == 200
    for row in rows:
        assert row.key.startswith(f"images/{today}/")
        assert objects[row.key] == payloads[Path(row.path).name]
        assert row.url.endswith(row.key) and row.content_type == "image/jpeg"
        assert row.uploaded_at.endswith("Z") and row.folder == "drop"


def _slow_writer(path: Path, data: bytes, chunk: int, pause: float) -> None:
    with path.open("wb") as fh:
        for start in range(0, len(data), chunk):
            fh.write(data[start:start + chunk])
            fh.flush()
            time.sleep(pause)


def test_writers_never_cause_partial_uploads(make_config: Callable[..., Path],
                                             local_oss: LocalOSS, drop: Path,
                                             tmp_path: Path) -> None:
    cfg = make_config()
    slow = jpeg_bytes(50 * 1024)  # 1 KB every 100 ms: about 5 s of writing
    zero_fill = jpeg_bytes(30_000)
    renamed = jpeg_bytes(40_000)
    copied = jpeg_bytes(60_000)
    elsewhere = Path("/dev/shm") if Path("/dev/shm").is_dir() else tmp_path
    source = elsewhere / f"ossync-copy-{os.getpid()}.jpg"
    source.write_bytes(copied)
    try:
        with daemon_thread(config_for(cfg)):
            writer = threading.Thread(target=_slow_writer,
                                      args=(drop / "slow.jpg", slow, 1024, 0.1))
            writer.start()
            (drop / "zero.jpg").touch()
            time.sleep(1.0)  # an empty placeholder past its settle time
            (drop / "zero.jpg").write_bytes(zero_fill)
            temp = drop / ".renamed.jpg.part"
            _slow_writer(temp, renamed, 8192, 0.05)
            temp.rename(drop / "renamed.jpg")
            shutil.copyfile(source, drop / "copied.jpg")  # from another filesystem
            writer.join()
            wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 4, 60, "4 uploads")
    finally:
        source.unlink()
    objects = bucket(local_oss)
    assert sorted(objects.values(), key=len) == sorted([slow, zero_fill, renamed, copied],
                                                       key=len)
    assert not any(".part" in k for k in objects)


def test_same_bytes_twice_is_one_object_and_two_paths(make_config: Callable[..., Path],
                                                      local_oss: LocalOSS, drop: Path,
                                                      tmp_path: Path, ledger_at: str) -> None:
    other = tmp_path / "other"
    other.mkdir()
    cfg = make_config(watch=[{"path": str(drop), "label": "drop"},
                             {"path": str(other), "label": "other"}], ledger=ledger_at)
    same = jpeg_bytes(10_000)
    with daemon_thread(config_for(cfg)):
        (drop / "a.jpg").write_bytes(same)
        wait_for(lambda: uploaded_paths(_ledger(cfg)), 30, "first upload")
        (drop / "copy of a.jpg").write_bytes(same)
        # same name, different bytes, in another folder
        (drop / "DSC_0001.jpg").write_bytes(jpeg_bytes(11_000))
        (other / "DSC_0001.jpg").write_bytes(jpeg_bytes(12_000))
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 4, 30, "4 paths recorded")
    objects = bucket(local_oss)
    assert len(objects) == 3
    assert list(objects.values()).count(same) == 1
    with Ledger.open(_ledger(cfg), readonly=True) as ledger:
        first = ledger.upload_for_path(str(drop / "a.jpg"))
        alias = ledger.upload_for_path(str(drop / "copy of a.jpg"))
        assert first is not None and alias == first


def test_same_name_on_another_day_is_a_new_object(make_config: Callable[..., Path],
                                                   local_oss: LocalOSS, drop: Path) -> None:
    cfg = make_config()
    first, second = jpeg_bytes(9_000), jpeg_bytes(9_500)
    snap = drop / "snapshot.jpg"
    with daemon_thread(config_for(cfg)):
        snap.write_bytes(first)
        yesterday = (datetime.now() - timedelta(days=1)).timestamp()
        os.utime(snap, (yesterday, yesterday))
        wait_for(lambda: uploaded_paths(_ledger(cfg)), 30, "yesterday's upload")
        snap.write_bytes(second)  # the camera writes the same name again today
        wait_for(lambda: len(uploads(_ledger(cfg))) == 2, 30, "today's upload")
    objects = bucket(local_oss)
    assert sorted(objects.values()) == sorted([first, second])
    days = {k.split("/")[3] for k in objects}
    assert len(days) == 2  # two date prefixes, nothing overwritten


def test_bad_inputs_are_handled_and_the_daemon_keeps_going(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path
) -> None:
    cfg = make_config()
    with daemon_thread(config_for(cfg)):
        (drop / "notes.jpg").write_text("this is not an image")
        (drop / "empty.jpg").touch()
        (drop / "gone.jpg").write_bytes(jpeg_bytes(1000))
        (drop / "gone.jpg").unlink()  # deleted before it settled
        os.mkfifo(drop / "pipe.jpg")
        (drop / "图片 with spaces #1.jpg").write_bytes(jpeg_bytes(2000))
        (drop / ".hidden.jpg").write_bytes(jpeg_bytes(2100))
        (drop / "readme.txt").write_text("not included")
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 1, 30, "the good file")
        for name in ("empty.jpg", "notes.jpg"):
            wait_for(lambda n=name: file_states(_ledger(cfg)).get(str(drop / n), ("",))[0]
                     == "skipped", 10, f"{name} skipped")
        states = file_states(_ledger(cfg))
    assert states[str(drop / "notes.jpg")][0] == "skipped"
    assert "not a supported image" in (states[str(drop / "notes.jpg")][1] or "")
    assert "empty file" in (states[str(drop / "empty.jpg")][1] or "")
    assert str(drop / "gone.jpg") not in states
    assert str(drop / "pipe.jpg") not in states
    assert str(drop / ".hidden.jpg") not in states
    assert str(drop / "readme.txt") not in states
    [row] = uploads(_ledger(cfg))
    assert "%E5%9B%BE%E7%89%87%20with%20spaces%20%231" in row.url
    assert bucket(local_oss)[row.key] == (drop / "图片 with spaces #1.jpg").read_bytes()


def test_unreadable_file_fails_alone(make_config: Callable[..., Path], local_oss: LocalOSS,
                                     drop: Path, tmp_path: Path) -> None:
    """Root reads everything: drop its capabilities so the daemon meets EACCES."""
    wrapper = (["setpriv", "--securebits", "+noroot", "--bounding-set", "-all",
                "--inh-caps", "-all"] if os.geteuid() == 0 else None)
    cfg = make_config()
    locked = drop / "locked.jpg"
    locked.write_bytes(jpeg_bytes(3000))
    locked.chmod(0)
    (drop / "fine.jpg").write_bytes(jpeg_bytes(3100))
    env = {**os.environ}
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", env, wrapper)
    try:
        proc.wait_ready()
        wait_for(lambda: file_states(_ledger(cfg)).get(str(locked), ("",))[0] == "failed",
                 30, "locked file failed")
        wait_for(lambda: str(drop / "fine.jpg") in uploaded_paths(_ledger(cfg)), 30, "fine")
        assert proc.proc.poll() is None
    finally:
        assert proc.stop() == 0
    error = file_states(_ledger(cfg))[str(locked)][1] or ""
    assert "Permission denied" in error
    log = (tmp_path / "daemon.log").read_text()
    assert "locked.jpg" in log and "Permission denied" in log


def test_files_dropped_while_stopped_are_uploaded_at_start(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
    ledger_at: str
) -> None:
    cfg = make_config(ledger=ledger_at)
    (drop / "sub" / "deeper").mkdir(parents=True)
    (drop / "before.jpg").write_bytes(jpeg_bytes(4000))
    (drop / "sub" / "deeper" / "nested.jpg").write_bytes(jpeg_bytes(4100))
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", dict(os.environ))
    try:
        proc.wait_ready()
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 2, 30, "catch-up uploads")
    finally:
        assert proc.stop() == 0
    assert len(bucket(local_oss)) == 2


def test_catch_up_skips_known_files_without_reading_them(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = make_config()
    config = config_for(cfg)
    data = jpeg_bytes(100, seed=1)
    sightings = []
    for i in range(10_000):
        path = drop / f"old_{i:05d}.jpg"
        path.write_bytes(data)
        st = path.stat()
        sightings.append(Sighting(str(path), "drop", st.st_size, st.st_mtime_ns, 0))
    with Ledger.open(config.ledger) as ledger:  # what an earlier run recorded
        queue = ledger
        queue.note(sightings)
        while (row := claim(queue)) is not None:
            record(queue, row, UploadResult(f"k/{row.id}", "u", row.size, None, 0),
                                bucket=BUCKET, sha256=f"{row.id:064d}",
                                content_type="image/jpeg", mtime_ns=row.mtime_ns)
    reads = Counter[str]()
    real = ossync.upload.prepare.read_facts
    monkeypatch.setattr("ossync.upload.worker.read_facts",
                        lambda p, name=None: (reads.update([name]), real(p, name))[1])
    (drop / "new.jpg").write_bytes(jpeg_bytes(5000))
    with daemon_thread(config):
        wait_for(lambda: str(drop / "new.jpg") in uploaded_paths(config.ledger), 60, "new")
    assert list(reads) == ["new.jpg"]
    assert len(bucket(local_oss)) == 1


def test_outage_backlog_drains_without_busy_looping(
    make_config: Callable[..., Path], drop: Path, tmp_path: Path, creds: Credentials
) -> None:
    probe = LocalOSS(tmp_path / "probe", [BUCKET], creds).start()
    endpoint = probe.endpoint
    probe.stop()  # a port where nothing listens: the endpoint is "down"
    cfg = make_config(endpoint=endpoint, retry_initial_delay=0.2, retry_max_delay=1.0)
    config = config_for(cfg)
    cpu_before = time.process_time()
    with daemon_thread(config):
        began = time.monotonic()
        for i in range(20):
            (drop / f"o{i}.jpg").write_bytes(jpeg_bytes(3000 + i))

        def tried_twice() -> bool:  # every file failed twice, with the cause written down
            with Ledger.open(config.ledger, readonly=True) as ledger:
                rows = list(ledger.iter_files())
            return len(rows) == 20 and all(r.attempts >= 2 and r.last_error and
                                           "connect" in r.last_error.lower() for r in rows)

        wait_for(tried_twice, 60, "every file tried twice against the down store")
        elapsed = time.monotonic() - began
        assert not uploaded_paths(config.ledger)
        with Ledger.open(config.ledger, readonly=True) as ledger:
            attempts = ledger.query("SELECT MAX(attempts) AS n FROM files")[0]["n"]
        # backing off (0.2 s doubling to 1 s, half to full of each step), not hammering
        assert attempts <= 2 + elapsed / 0.1
        assert time.process_time() - cpu_before < 3.0
        port = int(endpoint.rsplit(":", 1)[1])
        with LocalOSS(tmp_path / "root", [BUCKET], creds, region=REGION, port=port) as server:
            wait_for(lambda: len(uploaded_paths(config.ledger)) == 20, 60, "backlog drained")
            assert len(bucket(server)) == 20


def test_kill_9_during_backlog_then_restart_uploads_each_file_once(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
    ledger_at: str
) -> None:
    cfg = make_config(workers=4, ledger=ledger_at)
    payloads = {f"burst_{i:03d}.jpg": jpeg_bytes(20_000 + i) for i in range(500)}
    for name, data in payloads.items():
        (drop / name).write_bytes(data)
    log = tmp_path / "daemon.log"
    first = DaemonProcess(cfg, log, dict(os.environ))
    try:
        first.wait_ready()
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) >= 60, 60, "some uploads", 0.02)
        first.kill()
    finally:
        first.stop()
    done_at_kill = len(uploaded_paths(_ledger(cfg)))
    assert done_at_kill < 500, "the kill came too late to test anything"
    second = DaemonProcess(cfg, log, dict(os.environ))
    try:
        second.wait_ready()
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 500, 120, "all 500")
    finally:
        assert second.stop() == 0
    rows = uploads(_ledger(cfg))
    assert len(rows) == 500 and len({r.key for r in rows}) == 500
    objects = bucket(local_oss)
    assert len(objects) == 500  # nothing twice
    for row in rows:
        assert objects[row.key] == payloads[Path(row.path).name]


def test_sigterm_stops_gracefully_and_bad_config_exits_78(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = make_config()
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", dict(os.environ))
    proc.wait_ready()
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(30) == 0
    proc.stop()
    bad = tmp_path / "bad.yaml"
    bad.write_text("oss: {endpoint: nope}\nwatch: [{path: /no/such/dir}]\n")
    badproc = DaemonProcess(bad, tmp_path / "bad.log", dict(os.environ))
    assert badproc.proc.wait(30) == 78
    badproc.stop()
    text = (tmp_path / "bad.log").read_text()
    assert "watch[0].path: /no/such/dir does not exist" in text


def test_second_daemon_on_the_same_ledger_is_refused(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    cfg = make_config()
    first = DaemonProcess(cfg, tmp_path / "one.log", dict(os.environ))
    try:
        first.wait_ready()
        second = DaemonProcess(cfg, tmp_path / "two.log", dict(os.environ))
        assert second.proc.wait(30) != 0
        second.stop()
        assert "another ossync daemon" in (tmp_path / "two.log").read_text()
    finally:
        assert first.stop() == 0


def test_many_copies_at_once_are_one_upload(make_config: Callable[..., Path],
                                            local_oss: LocalOSS, drop: Path,
                                            ledger_at: str) -> None:
    """Workers racing on the same bytes: one uploads, the others record aliases."""
    cfg = make_config(workers=8, ledger=ledger_at)
    same = jpeg_bytes(200_000)
    with daemon_thread(config_for(cfg)):
        for i in range(20):
            (drop / f"copy_{i:02d}.jpg").write_bytes(same)
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == 20, 30, "20 paths")
    assert len(uploads(_ledger(cfg))) == 1
    assert list(bucket(local_oss).values()) == [same]


def test_after_upload_delete_and_move(make_config: Callable[..., Path], local_oss: LocalOSS,
                                      tmp_path: Path) -> None:
    gone, moved, done = tmp_path / "gone", tmp_path / "moved", tmp_path / "done"
    for folder in (gone, moved):
        (folder / "sub").mkdir(parents=True)
    cfg = make_config(watch=[
        {"path": str(gone), "label": "gone", "after_upload": "delete"},
        {"path": str(moved), "label": "moved", "after_upload": "move", "move_to": str(done)},
    ])
    first, second = jpeg_bytes(2000), jpeg_bytes(2100)
    with daemon_thread(config_for(cfg)):
        (gone / "sub" / "a.jpg").write_bytes(first)
        (moved / "sub" / "b.jpg").write_bytes(second)
        wait_for(lambda: not (gone / "sub" / "a.jpg").exists()
                 and (done / "sub" / "b.jpg").exists(), 30, "delete and move")
    assert (done / "sub" / "b.jpg").read_bytes() == second
    assert not (moved / "sub" / "b.jpg").exists()
    assert sorted(bucket(local_oss).values()) == sorted([first, second])
    assert len(uploaded_paths(_ledger(cfg))) == 2  # the record keeps the original paths


def test_move_to_inside_the_watched_folder_is_refused(make_config: Callable[..., Path],
                                                      drop: Path) -> None:
    from ossync.core.errors import ConfigError

    cfg = make_config(watch=[{"path": str(drop), "after_upload": "move",
                              "move_to": str(drop / "done")}])
    with pytest.raises(ConfigError, match="inside the watched folder"):
        config_for(cfg)
