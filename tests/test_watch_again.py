"""A watch folder removed and made again (a share remounted, a camera's card folder
re-created) is watched natively again at once — never reported as the inotify watch
limit, never left to polling or to the next periodic scan."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from ossync.intake.watcher import ROOT_CHECK
from ossync.localoss import LocalOSS

from .daemon_helpers import config_for, daemon_thread, jpeg_bytes, uploaded_paths, wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("how", ["rmtree", "rename"])
def test_a_folder_removed_and_made_again_is_watched_again(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        caplog: pytest.LogCaptureFixture, how: str, tmp_path: Path) -> None:
    cfg = make_config(scan_interval="1h")  # no periodic scan to hide a missing watch
    with caplog.at_level(logging.INFO), daemon_thread(config_for(cfg)) as daemon:
        (drop / "before.jpg").write_bytes(jpeg_bytes(3000))
        wait_for(lambda: uploaded_paths(config_for(cfg).ledger), 20, "the first upload")
        if how == "rmtree":  # inotify says so: watched again as soon as it is back
            shutil.rmtree(drop)
            wait_for(lambda: "was removed or moved away" in caplog.text, 10, "the folder gone")
        else:  # the watch follows the folder, silently: found by the look at every root
            drop.rename(tmp_path / "drop-away")
        drop.mkdir()
        wait_for(lambda: f"watching {drop} again" in caplog.text, ROOT_CHECK + 5, "a new watch")
        assert daemon.watcher.mode("drop") == "watched"
        (drop / "after.jpg").write_bytes(jpeg_bytes(3001))
        wait_for(lambda: str(drop / "after.jpg") in uploaded_paths(config_for(cfg).ledger),
                 15, "the upload from the folder made again")
    assert "watch limit" not in caplog.text
    assert "sysctl" not in caplog.text
