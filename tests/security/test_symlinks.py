"""Whoever can write to a drop folder gets nothing outside it: a sub-folder swapped for a
symlink to a private folder — before the file is opened, after it is opened, after it is
hashed, after it is sent — never makes ossync read, send, delete or move a file outside
the watch folder; nor does a file swapped for another of the same name.

Failpoints armed here (ossync/core/failpoints.py): worker.pinned, worker.hashed,
worker.sent, each as `1*sleep(S)` to hold one step open while the test swaps.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ossync.core import failpoints
from ossync.core.beneath import NotBeneath, PinnedFile
from ossync.localoss import LocalOSS

from ..daemon_helpers import bucket, config_for, daemon_thread, file_states, jpeg_bytes, wait_for

pytestmark = pytest.mark.timeout(90)
HOLD = 4.0  # seconds a failpoint holds its step open


class _Reached(logging.Handler):
    def __init__(self, point: str) -> None:
        super().__init__(logging.WARNING)
        self.point = point
        self.hit = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if f"failpoint {self.point}" in record.getMessage():
            self.hit.set()


@pytest.fixture
def reached() -> Iterator[Callable[[str], _Reached]]:
    handlers: list[_Reached] = []
    logger = logging.getLogger("ossync.core.failpoints")

    def arm(point: str) -> _Reached:
        handler = _Reached(point)
        logger.addHandler(handler)
        handlers.append(handler)
        failpoints.configure(f"{point}=1*sleep({HOLD})")
        return handler

    try:
        yield arm
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
        failpoints.configure(None)


@pytest.fixture
def private(tmp_path: Path) -> Path:
    """A folder outside the drop folder, with a file of the same name as the one dropped."""
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(jpeg_bytes(7000, seed=99))
    return folder


def _swap(drop: Path, private: Path) -> Path:
    """`drop/sub` becomes a symlink to `private`; the real folder moves aside."""
    aside = drop.parent / "sub-aside"
    (drop / "sub").rename(aside)
    (drop / "sub").symlink_to(private, target_is_directory=True)
    return aside


def _nothing_leaked(local_oss: LocalOSS, private: Path) -> None:
    secret = (private / "photo.jpg").read_bytes()  # still there: never removed
    assert all(data != secret for data in bucket(local_oss).values())  # never sent


@pytest.mark.parametrize("point", ["worker.pinned", "worker.hashed", "worker.sent"])
def test_a_folder_swapped_for_a_symlink_mid_upload(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, private: Path,
        reached: Callable[[str], _Reached], point: str) -> None:
    (drop / "sub").mkdir()
    original = jpeg_bytes(6000, seed=1)
    step = reached(point)
    cfg = make_config(watch=[{"path": str(drop), "label": "drop", "after_upload": "delete"}])
    with daemon_thread(config_for(cfg)):
        (drop / "sub" / "photo.jpg").write_bytes(original)
        assert step.hit.wait(30), f"the worker never reached {point}"
        aside = _swap(drop, private)
        wait_for(lambda: file_states(config_for(cfg).ledger).get(
            str(drop / "sub" / "photo.jpg"), ("", ""))[0] == "uploaded", 30, "the upload")
    _nothing_leaked(local_oss, private)
    assert original in bucket(local_oss).values()  # the file that was opened, and no other
    if point == "worker.sent":
        assert (aside / "photo.jpg").read_bytes() == original  # its entry moved: kept


def test_a_folder_swapped_before_the_file_is_opened(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        private: Path) -> None:
    (drop / "sub").mkdir()
    cfg = make_config(settle_seconds=2.0,
                      watch=[{"path": str(drop), "label": "drop", "after_upload": "delete"}])
    path = str(drop / "sub" / "photo.jpg")
    with daemon_thread(config_for(cfg)):
        (drop / "sub" / "photo.jpg").write_bytes(jpeg_bytes(6000, seed=1))
        wait_for(lambda: path in file_states(config_for(cfg).ledger), 10, "the sighting")
        _swap(drop, private)  # while it settles
        wait_for(lambda: file_states(config_for(cfg).ledger).get(path, ("", ""))[0]
                 == "skipped", 20, "the row skipped")
    _state, error = file_states(config_for(cfg).ledger)[path]
    assert "symlink" in (error or "")
    _nothing_leaked(local_oss, private)
    assert not bucket(local_oss)


def test_a_file_replaced_after_upload_is_not_deleted(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        reached: Callable[[str], _Reached]) -> None:
    step = reached("worker.sent")
    cfg = make_config(watch=[{"path": str(drop), "label": "drop", "after_upload": "delete"}])
    with daemon_thread(config_for(cfg)):
        (drop / "photo.jpg").write_bytes(jpeg_bytes(6000, seed=1))
        assert step.hit.wait(30)
        replacement = jpeg_bytes(6000, seed=2)
        (drop / "photo.jpg.new").write_bytes(replacement)
        (drop / "photo.jpg.new").rename(drop / "photo.jpg")  # same name, another file
        wait_for(lambda: str(drop / "photo.jpg") in file_states(config_for(cfg).ledger),
                 10, "the row")
    assert (drop / "photo.jpg").read_bytes() == replacement  # not the uploaded one: kept


def test_pinned_files_refuse_links_and_other_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "real").mkdir(parents=True)
    (root / "real" / "a.jpg").write_bytes(b"a")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "a.jpg").write_bytes(b"secret")
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file-link.jpg").symlink_to(outside / "a.jpg")
    os.mkfifo(root / "fifo.jpg")
    for rel in ("link/a.jpg", "file-link.jpg", "fifo.jpg", "real/../link/a.jpg", "real"):
        with pytest.raises(NotBeneath):
            PinnedFile(str(root), f"{root}/{rel}").close()
    with pytest.raises(NotBeneath):
        PinnedFile(str(root), str(outside / "a.jpg")).close()
    with PinnedFile(str(root), str(root / "real" / "a.jpg")) as pinned:
        (root / "real" / "a.jpg").rename(root / "real" / "moved.jpg")
        (root / "real" / "a.jpg").write_bytes(b"other")
        assert pinned.read_path.read_bytes() == b"a"  # the file opened, whatever the names
        assert hashlib.sha256(pinned.read_path.read_bytes()).hexdigest()
        assert pinned.unlink() is False  # the entry names another file now
    assert (root / "real" / "a.jpg").read_bytes() == b"other"
