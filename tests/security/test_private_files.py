"""What ossync writes about a host's files is readable by its user alone, whatever the
umask it was started with: the ledger (and its -wal and -shm), the ledger's lock and a
folder made for them, and the private folder of cleaned copies."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from ossync.ledger import Ledger, Sighting
from ossync.upload.strip import private_dir


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path | str) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_ledger_is_private_whatever_the_umask(tmp_path: Path, open_umask: None) -> None:
    location = tmp_path / "state" / "ossync" / "ledger.db"
    with Ledger.open(location, exclusive=True, host="h") as ledger:
        ledger.note([Sighting("/d/a.jpg", "d", 1, 1, 0.0)])  # writes the WAL
        for suffix in ("", "-wal", "-shm", ".lock"):
            path = Path(f"{location}{suffix}")
            assert path.exists(), path
            assert _mode(path) == 0o600, (path, oct(_mode(path)))
    assert _mode(location.parent) == 0o700


def test_cleaned_copies_live_in_a_private_folder(open_umask: None) -> None:
    assert _mode(private_dir()) == 0o700
