"""Big files through the real daemon (a subprocess, killed with SIGKILL): the upload in
parts resumes where it stopped and each byte crosses the wire about once; a file
deleted or changed while its upload waited leaves no unfinished upload behind; SIGHUP
changes max_bandwidth on the fly."""

from __future__ import annotations

import io
import logging
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ossync.cli import main
from ossync.core.credentials import Credentials
from ossync.ledger import Ledger, LedgerError
from ossync.localoss import LocalOSS
from tests.daemon_helpers import DaemonProcess, config_for, daemon_thread, uploads, wait_for
from tests.faults import FaultPlan, FaultProxy
from tests.oss_sdk import open_uploads, stored

pytestmark = pytest.mark.slow
MIB = 1024 * 1024
HOST = "studio-1"
# Parts of 256 KiB, two at a time, at 2 MB/s: an 8 MiB file takes about 4 s, so a
# kill lands in the middle of it.
BIG = {"host": HOST, "multipart_threshold": "1MiB", "part_size": "256KiB",
       "part_concurrency": 2, "max_bandwidth": "2MB/s"}


@pytest.fixture
def proxy(local_oss: LocalOSS) -> Iterator[FaultProxy]:
    """A fault-free proxy: it counts the bytes the daemon sends."""
    with FaultProxy(local_oss.endpoint, FaultPlan()) as p:
        yield p


def _tiff(path: Path, size: int) -> Path:
    """Written under a temp name and renamed in, as a careful writer does."""
    tmp = path.with_name("." + path.name + ".part")
    tmp.write_bytes(b"II*\x00" + os.urandom(size - 4))
    tmp.rename(path)
    return path


def _ledger_path(cfg: Path) -> Path:
    return Path(str(config_for(cfg).ledger))


def _checkpoint(cfg: Path, path: Path) -> tuple[str | None, int] | None:
    """(upload id, parts recorded) of the file's unfinished upload, if any."""
    if not _ledger_path(cfg).exists():
        return None
    try:
        with Ledger.open(_ledger_path(cfg), readonly=True) as ledger:
            found = ledger.multipart_of(HOST, str(path))
    except LedgerError:
        return None
    return None if found is None else (found[0].upload_id, len(found[1]))


def _killed_midway(cfg: Path, log: Path, path: Path, parts: int) -> tuple[str | None, int]:
    """Run the daemon until `parts` parts of `path` are recorded, then SIGKILL it."""
    daemon = DaemonProcess(cfg, log, dict(os.environ))
    try:
        daemon.wait_ready()
        wait_for(lambda: (_checkpoint(cfg, path) or (None, 0))[1] >= parts, 60,
                 f"{parts} parts recorded", 0.05, lambda: log.read_text(errors="replace"))
        daemon.kill()
    finally:
        daemon.stop()
    found = _checkpoint(cfg, path)
    assert found is not None and found[0], "the kill came before the upload began"
    return found


def _restarted_until(cfg: Path, log: Path, check: Callable[[], object], what: str) -> None:
    """Start the daemon again and run it until `check` holds; it must stop cleanly."""
    daemon = DaemonProcess(cfg, log, dict(os.environ))
    try:
        daemon.wait_ready()
        wait_for(check, 60, what, 0.1, lambda: log.read_text(errors="replace"))
    finally:
        assert daemon.stop() == 0


def _uploaded(cfg: Path, path: Path) -> Callable[[], object]:
    return lambda: [u for u in uploads(_ledger_path(cfg)) if u.path == str(path)]


def test_kill_9_mid_upload_resumes_and_sends_each_byte_about_once(
    make_config: Callable[..., Path], local_oss: LocalOSS, proxy: FaultProxy, drop: Path,
    creds: Credentials, tmp_path: Path
) -> None:
    cfg = make_config(endpoint=proxy.endpoint, **BIG)
    size = 8 * MIB
    big = _tiff(drop / "slide.tif", size)
    log = tmp_path / "daemon.log"
    upload_id, recorded = _killed_midway(cfg, log, big, parts=8)
    assert recorded < 32, "the kill came too late to test anything"
    sent_at_kill = proxy.server.body_bytes
    out = io.StringIO()
    assert main(["show", "-c", str(cfg), str(big)], stdout=out, stderr=io.StringIO()) == 0
    assert f"sending in parts: {recorded} of 32 stored" in out.getvalue()
    _restarted_until(cfg, log, _uploaded(cfg, big), "the upload to finish")
    text = log.read_text()
    assert f"resuming upload {upload_id}" in text
    [row] = uploads(_ledger_path(cfg))
    assert stored(local_oss, creds, row.key) == big.read_bytes()
    assert proxy.server.body_bytes <= 1.1 * size, (sent_at_kill, proxy.server.body_bytes)
    assert open_uploads(local_oss, creds) == []
    assert _checkpoint(cfg, big) is None


def test_a_file_deleted_while_its_upload_waited_is_aborted_by_the_sweep(
    make_config: Callable[..., Path], local_oss: LocalOSS, proxy: FaultProxy, drop: Path,
    creds: Credentials, tmp_path: Path
) -> None:
    cfg = make_config(endpoint=proxy.endpoint, **BIG)
    big = _tiff(drop / "slide.tif", 8 * MIB)
    log = tmp_path / "daemon.log"
    _killed_midway(cfg, log, big, parts=4)
    assert len(open_uploads(local_oss, creds)) == 1
    big.unlink()
    _restarted_until(cfg, log, lambda: not open_uploads(local_oss, creds)
                     and _checkpoint(cfg, big) is None, "the sweep to abort it")
    assert "aborted the unfinished upload" in log.read_text()
    assert uploads(_ledger_path(cfg)) == []


def test_a_file_changed_while_its_upload_waited_goes_fresh_and_the_old_upload_is_aborted(
    make_config: Callable[..., Path], local_oss: LocalOSS, proxy: FaultProxy, drop: Path,
    creds: Credentials, tmp_path: Path
) -> None:
    cfg = make_config(endpoint=proxy.endpoint, **BIG)
    big = _tiff(drop / "slide.tif", 6 * MIB)
    log = tmp_path / "daemon.log"
    _killed_midway(cfg, log, big, parts=4)
    _tiff(big, 6 * MIB)  # a new scan under the same name
    _restarted_until(cfg, log, _uploaded(cfg, big), "the new content to upload")
    [row] = uploads(_ledger_path(cfg))
    assert stored(local_oss, creds, row.key) == big.read_bytes()
    assert open_uploads(local_oss, creds) == []


def test_sighup_changes_max_bandwidth_without_a_restart(
    make_config: Callable[..., Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ossync")
    cfg = make_config(max_bandwidth="5MB/s")
    with daemon_thread(config_for(cfg)) as daemon:
        assert daemon.throttle.rate == 5e6
        text = cfg.read_text().replace("max_bandwidth: 5MB/s",
                                       "max_bandwidth:\n- 00:00-24:00 100Mbit/s")
        cfg.write_text(text)
        daemon._on_signal(signal.SIGHUP, None)
        wait_for(lambda: daemon.throttle.rate == 12.5e6, 10, "the new rate")
        cfg.write_text(text.replace("max_bandwidth:\n- 00:00-24:00 100Mbit/s",
                                    "max_bandwidth: 'off'"))
        daemon._on_signal(signal.SIGHUP, None)
        wait_for(lambda: daemon.throttle.rate is None, 10, "no cap")
    assert "max_bandwidth is now 00:00-24:00 12.5 MB/s, otherwise off" in caplog.text
    assert "max_bandwidth is now off" in caplog.text
