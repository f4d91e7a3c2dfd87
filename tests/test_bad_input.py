"""Bad input and hostile conditions, each with its documented outcome (README: "Odd files
and failures"). The daemon keeps running and names the file and the cause."""

from __future__ import annotations

import io
import logging
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.targets import FileChanged
from ossync.targets.form_body import MultipartFileBody

from .conftest import BUCKET
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

pytestmark = pytest.mark.timeout(240)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))


def _ledger(cfg: Path) -> Path:
    return config_for(cfg).ledger


def test_odd_names_and_a_png_named_jpg(make_config: Callable[..., Path], local_oss: LocalOSS,
                                       drop: Path) -> None:
    cfg = make_config()
    names = ['quote "double" \'single\'.jpg', "new\nline.jpg", "emoji 📷🌸.jpg",
             "percent %41 hash # query ?x=1 plus+.jpg", "中文 名字.jpg"]
    with daemon_thread(config_for(cfg)):
        for i, name in enumerate(names):
            (drop / name).write_bytes(jpeg_bytes(1000 + i))
        (drop / "actually.jpg").write_bytes(_png())
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == len(names) + 1, 30, "uploads")
    rows = {Path(r.path).name: r for r in uploads(_ledger(cfg))}
    objects = bucket(local_oss)
    for name in names:
        assert objects[rows[name].key] == (drop / name).read_bytes()
        assert "\n" not in rows[name].key
    png = rows["actually.jpg"]
    assert png.key.endswith(".png") and png.content_type == "image/png"


def test_too_long_for_a_key_fails_alone(make_config: Callable[..., Path], local_oss: LocalOSS,
                                        drop: Path) -> None:
    cfg = make_config(watch=[{"path": str(drop), "label": "drop", "prefix": "{reldir}"}])
    deep = drop
    for level in range(5):
        deep = deep / (f"{level}" * 240)
    deep.mkdir(parents=True)
    (deep / "photo.jpg").write_bytes(jpeg_bytes(1000))
    (drop / "short.jpg").write_bytes(jpeg_bytes(1100))
    with daemon_thread(config_for(cfg)):
        wait_for(lambda: file_states(_ledger(cfg)).get(str(deep / "photo.jpg"), ("",))[0]
                 == "failed", 30, "long key failed")
        wait_for(lambda: str(drop / "short.jpg") in uploaded_paths(_ledger(cfg)), 30, "short")
    error = file_states(_ledger(cfg))[str(deep / "photo.jpg")][1] or ""
    assert "cannot make an object key" in error and "1023" in error


def test_symlinks_are_not_followed(make_config: Callable[..., Path], local_oss: LocalOSS,
                                   drop: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes(1000))
    (drop / "link.jpg").symlink_to(outside)
    (drop / "loop").symlink_to(drop)  # a loop must not hang the scan
    (drop / "real.jpg").write_bytes(jpeg_bytes(1200))
    cfg = make_config()
    with daemon_thread(config_for(cfg)):
        wait_for(lambda: uploaded_paths(_ledger(cfg)), 30, "real file")
        time.sleep(1)
    assert uploaded_paths(_ledger(cfg)) == {str(drop / "real.jpg")}
    assert str(drop / "link.jpg") not in file_states(_ledger(cfg))


def test_folders_renamed_removed_and_moved_in(make_config: Callable[..., Path],
                                              local_oss: LocalOSS, drop: Path,
                                              tmp_path: Path) -> None:
    cfg = make_config()
    (drop / "a").mkdir()
    (drop / "a" / "one.jpg").write_bytes(jpeg_bytes(1000))
    outside = tmp_path / "incoming"
    (outside / "deeper").mkdir(parents=True)
    (outside / "deeper" / "two.jpg").write_bytes(jpeg_bytes(1100))
    with daemon_thread(config_for(cfg)):
        wait_for(lambda: str(drop / "a" / "one.jpg") in uploaded_paths(_ledger(cfg)), 30,
                 "one")
        (drop / "a").rename(drop / "b")  # renamed: same bytes, no second upload
        outside.rename(drop / "incoming")  # moved in: no event names its files
        wait_for(lambda: {str(drop / "b" / "one.jpg"),
                          str(drop / "incoming" / "deeper" / "two.jpg")}
                 <= uploaded_paths(_ledger(cfg)), 30, "renamed and moved-in files")
        for path in (drop / "b").iterdir():
            path.unlink()
        (drop / "b").rmdir()  # removed while watched
        (drop / "b").mkdir()
        (drop / "b" / "three.jpg").write_bytes(jpeg_bytes(1200))
        wait_for(lambda: str(drop / "b" / "three.jpg") in uploaded_paths(_ledger(cfg)), 30,
                 "file in the re-created folder")
    assert len(bucket(local_oss)) == 3


def test_watch_folder_removed_and_recreated_is_found_by_the_periodic_scan(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path
) -> None:
    cfg = make_config(scan_interval=5)  # the shortest scan_interval allowed
    with daemon_thread(config_for(cfg)):
        drop.rmdir()
        drop.mkdir()
        (drop / "after.jpg").write_bytes(jpeg_bytes(1000))
        wait_for(lambda: str(drop / "after.jpg") in uploaded_paths(_ledger(cfg)), 30,
                 "file in the re-created watch folder")


def test_file_growing_while_it_is_sent_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "growing.jpg"
    path.write_bytes(b"x" * 100_000)
    with path.open("rb") as fh:
        body = MultipartFileBody({"key": "k"}, fh, 100_000, "image/jpeg")
        body.read(50_000)  # the form fields and the first part of the file
        with path.open("ab") as grow:
            grow.write(b"more")
        with pytest.raises(FileChanged, match="grew"):
            while body.read(50_000):
                pass


def test_ledger_locked_by_another_process_then_released(
    make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path
) -> None:
    cfg = make_config()
    log = tmp_path / "daemon.log"
    proc = DaemonProcess(cfg, log, dict(os.environ))
    try:
        proc.wait_ready()
        holder = sqlite3.connect(_ledger(cfg), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another program holds a write lock for 15 s
        try:
            (drop / "waiting.jpg").write_bytes(jpeg_bytes(1000))
            wait_for(lambda: b"ledger cannot be" in log.read_bytes(), 40, "the ledger error")
            assert proc.proc.poll() is None
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        wait_for(lambda: str(drop / "waiting.jpg") in uploaded_paths(_ledger(cfg)), 60,
                 "upload after the lock is released")
    finally:
        assert proc.stop() == 0


def test_ledger_disk_full_then_freed(make_config: Callable[..., Path], local_oss: LocalOSS,
                                     drop: Path, tmp_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(small)], check=True)
    try:
        cfg = make_config(ledger=str(small / "ledger.db"))
        filler = small / "filler"
        with daemon_thread(config_for(cfg)):
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:  # fill the disk the ledger lives on
                while os.write(fd, b"\0" * 65536):
                    pass
            except OSError:
                pass
            finally:
                os.close(fd)
            for i in range(30):
                (drop / f"full_{i}.jpg").write_bytes(jpeg_bytes(1000 + i))
            time.sleep(3)
            filler.unlink()  # space comes back
            wait_for(lambda: len(uploaded_paths(small / "ledger.db")) == 30, 90,
                     "uploads after space returned")
        assert "full" in caplog.text  # the trouble was seen and named
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_corrupt_ledger_at_start_is_refused_clearly(make_config: Callable[..., Path],
                                                   tmp_path: Path) -> None:
    cfg = make_config()
    _ledger(cfg).write_bytes(b"not a database at all" * 200)
    proc = DaemonProcess(cfg, tmp_path / "daemon.log", dict(os.environ))
    assert proc.proc.wait(30) == 65
    proc.stop()
    text = (tmp_path / "daemon.log").read_text()
    assert "move it aside" in text and "Traceback" not in text


def test_inotify_overflow_is_noticed_and_rescanned(make_config: Callable[..., Path],
                                                   local_oss: LocalOSS, drop: Path,
                                                   tmp_path: Path) -> None:
    """Freeze the daemon, make far more events than the kernel queue holds (16384 by
    default), thaw it: it must say so and rescan, not lose files (no periodic scan here)."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    files = limit // 3 + 2000  # each write is create + modify + close (+ open)
    cfg = make_config(scan_interval="1h", settle_seconds=0.2)
    log = tmp_path / "daemon.log"
    proc = DaemonProcess(cfg, log, dict(os.environ))
    same = jpeg_bytes(200)
    try:
        proc.wait_ready()
        proc.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(files):
                (drop / f"burst_{i:05d}.jpg").write_bytes(same)
        finally:
            proc.proc.send_signal(signal.SIGCONT)
        wait_for(lambda: b"overflowed" in log.read_bytes(), 60, "the overflow warning")
        wait_for(lambda: len(uploaded_paths(_ledger(cfg))) == files, 180,
                 f"all {files} files recorded", step=1.0)
    finally:
        assert proc.stop() == 0
    assert b"max_queued_events" in log.read_bytes()
    assert len(bucket(local_oss)) == 1  # same bytes: one object, every path recorded


def test_wrong_credentials_fail_each_file_clearly(make_config: Callable[..., Path],
                                                  local_oss: LocalOSS, drop: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", "definitely-not-the-secret")
    cfg = make_config()
    with daemon_thread(config_for(cfg)):
        (drop / "denied.jpg").write_bytes(jpeg_bytes(1000))
        wait_for(lambda: file_states(_ledger(cfg)).get(str(drop / "denied.jpg"), ("",))[0]
                 == "failed", 30, "failed upload")
    error = file_states(_ledger(cfg))[str(drop / "denied.jpg")][1] or ""
    assert "SignatureDoesNotMatch" in error and "OSS_ACCESS_KEY_SECRET" in error
    assert "definitely-not-the-secret" not in error


def test_bad_endpoint_url_is_a_config_error(write_config: Callable[..., Path],
                                            oss_env: dict[str, str], drop: Path) -> None:
    from ossync.cli import main

    cfg = write_config("htp:/nowhere", watch=[{"path": str(drop)}])
    err = io.StringIO()
    assert main(["run", "-c", str(cfg)], stdout=io.StringIO(), stderr=err) == 78
    assert "oss.endpoint" in err.getvalue()


def test_sts_token_daemon_end_to_end(tmp_path: Path, write_config: Callable[..., Path],
                                     drop: Path, monkeypatch: pytest.MonkeyPatch,
                                     sts_creds: Credentials) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", sts_creds.access_key_id)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", sts_creds.access_key_secret)
    monkeypatch.setenv("OSS_SESSION_TOKEN", sts_creds.security_token or "")
    with LocalOSS(tmp_path / "sts-root", [BUCKET], sts_creds) as server:
        cfg = write_config(server.endpoint, watch=[{"path": str(drop)}], settle_seconds=0.2)
        with daemon_thread(config_for(cfg)):
            (drop / "sts.jpg").write_bytes(jpeg_bytes(1000))
            wait_for(lambda: uploaded_paths(_ledger(cfg)), 30, "upload with STS")
        assert len(bucket(server)) == 1


def _watches_in_use() -> int:
    """Every inotify watch on this machine (the limit counts per user; tests run as root)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:inotify":
                    with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                        total += sum(line.startswith("inotify wd:") for line in info)
        except OSError:
            continue
    return total


def test_inotify_watch_limit_falls_back_to_polling(make_config: Callable[..., Path],
                                                   local_oss: LocalOSS, drop: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """watchdog skips subfolders it cannot watch without a word: we notice and poll."""
    if os.geteuid() != 0:
        pytest.skip("lowering fs.inotify.max_user_watches needs root")
    for i in range(30):
        (drop / f"sub{i:02d}").mkdir()
    setting = Path("/proc/sys/fs/inotify/max_user_watches")
    original = setting.read_text()
    cfg = make_config(watch=[{"path": str(drop), "label": "drop", "poll_interval": 0.5}])
    setting.write_text(f"{_watches_in_use() + 5}\n")  # the root and a few subfolders only
    try:
        with daemon_thread(config_for(cfg)):
            time.sleep(1)  # past the start-up scan: only events or polling can find it now
            (drop / "sub29" / "deep.jpg").write_bytes(jpeg_bytes(1000))
            wait_for(lambda: str(drop / "sub29" / "deep.jpg") in uploaded_paths(_ledger(cfg)),
                     30, "upload from an unwatched subfolder")
    finally:
        setting.write_text(original)
    assert "inotify watch limit reached" in caplog.text
    assert "fs.inotify.max_user_watches" in caplog.text


def test_jpeg_without_its_end_marker_waits(make_config: Callable[..., Path],
                                           local_oss: LocalOSS, drop: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """A scanner that creates the file first: the end marker comes last, then it goes."""
    cfg = make_config(settle_seconds=0.2)
    whole = jpeg_bytes(5000)
    path = drop / "scan.jpg"
    with caplog.at_level(logging.DEBUG, "ossync.upload.worker"), daemon_thread(
            config_for(cfg)):
        path.write_bytes(whole[:-2])  # no FF D9 yet
        wait_for(lambda: caplog.text.count(f"{path} waits: no JPEG end marker yet") >= 3, 30,
                 "the worker to look three times and wait")  # the reason, not a clock
        assert str(path) not in uploaded_paths(_ledger(cfg))
        with path.open("ab") as fh:
            fh.write(whole[-2:])
        wait_for(lambda: str(path) in uploaded_paths(_ledger(cfg)), 30, "complete scan")
    assert list(bucket(local_oss).values()) == [whole]


def test_a_file_held_open_for_writing_waits(make_config: Callable[..., Path],
                                            local_oss: LocalOSS, drop: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A local writer (Samba, an FTP server) pausing longer than the settle time, with the
    file still open for writing: seen in /proc, so nothing is sent until it closes."""
    cfg = make_config(settle_seconds=0.2)
    first, rest = jpeg_bytes(3000), jpeg_bytes(4000)  # each part ends like a whole JPEG
    path = drop / "held.jpg"
    script = ("import sys, time\n"
              "with open(sys.argv[1], 'wb') as fh:\n"
              "    fh.write(bytes.fromhex(sys.argv[2])); fh.flush()\n"
              "    sys.stdin.readline()\n"  # paused, file still open for writing
              "    fh.write(bytes.fromhex(sys.argv[3]))\n")
    with caplog.at_level(logging.DEBUG, "ossync.upload.worker"), daemon_thread(
            config_for(cfg)):
        writer = subprocess.Popen([sys.executable, "-c", script, str(path), first.hex(),
                                   rest.hex()], stdin=subprocess.PIPE)
        try:
            wait_for(path.exists, 10, "the writer to start")
            held = f"{path} waits to settle: a local process has it open for writing"
            wait_for(lambda: caplog.text.count(held) >= 3, 30,
                     "the worker to see the writer three times")  # the reason, not a clock
            assert str(path) not in uploaded_paths(_ledger(cfg))
        finally:
            assert writer.stdin is not None
            writer.stdin.write(b"go\n")
            writer.stdin.close()
            writer.wait(10)
        wait_for(lambda: str(path) in uploaded_paths(_ledger(cfg)), 30, "upload after close")
    assert list(bucket(local_oss).values()) == [first + rest]
