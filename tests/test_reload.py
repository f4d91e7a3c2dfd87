"""SIGHUP applies every key it can and names every key it cannot: one test per key class —
watch folders, the top-level live keys, the bandwidth cap, keys that need a restart, and
an edit that does not load."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.localoss import LocalOSS
from ossync.service.daemon import Daemon

from .conftest import BUCKET
from .daemon_helpers import config_for, daemon_thread, jpeg_bytes, uploads, wait_for

pytestmark = pytest.mark.timeout(90)


@contextmanager
def _running(cfg: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Daemon]:
    with caplog.at_level(logging.INFO), daemon_thread(config_for(cfg)) as daemon:
        yield daemon


def _edit(cfg: Path, **changes: Any) -> None:
    doc = yaml.safe_load(cfg.read_text(encoding="utf-8"))
    for path, value in changes.items():
        section, _, key = path.partition("__")
        if key:
            doc[section][key] = value
        else:
            doc[path] = value
    cfg.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def _reload(daemon: Daemon, caplog: pytest.LogCaptureFixture) -> str:
    """Send the daemon a reload and return what it logged for it."""
    start = len(caplog.records)
    daemon.reload_event.set()
    wait_for(lambda: any(r.getMessage().startswith(("reloaded ", "reload failed"))
                         for r in caplog.records[start:]), 15, "the reload")
    return "\n".join(r.getMessage() for r in caplog.records[start:])


def test_watch_folders_and_their_keys_apply_at_once(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    second = tmp_path / "second"
    second.mkdir()
    cfg = make_config()
    with _running(cfg, caplog) as daemon:
        _edit(cfg, watch=[{"path": str(drop), "label": "drop", "prefix": "renamed/"},
                          {"path": str(second), "label": "second"}])
        said = _reload(daemon, caplog)
        assert "needs a restart" not in said
        assert "watching 2 folder(s)" in said
        (drop / "a.jpg").write_bytes(jpeg_bytes(3000))
        (second / "b.jpg").write_bytes(jpeg_bytes(3001))
        wait_for(lambda: len(uploads(config_for(cfg).ledger)) == 2, 20, "both uploads")
    keys = {Path(u.path).name: u.key for u in uploads(config_for(cfg).ledger)}
    assert keys["a.jpg"].startswith("renamed/")  # the new prefix, live


def test_top_level_live_keys_apply_at_once(
        make_config: Callable[..., Path], local_oss: LocalOSS,
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config()
    with _running(cfg, caplog) as daemon:
        _edit(cfg, scan_interval="7m", max_file_size="1MB", retry_initial_delay="3s",
              retry_max_delay="4m", timezone="UTC")
        said = _reload(daemon, caplog)
        assert "needs a restart" not in said
        for key in ("scan_interval", "max_file_size", "retry_initial_delay",
                    "retry_max_delay", "timezone"):
            assert key in said  # named as applied
        assert daemon.config.scan_interval == 420.0
        limits = {(w.limits.max_file_size, w.limits.retry.initial, w.limits.retry.longest)
                  for w in daemon.workers}
        assert limits == {(1_000_000, 3.0, 240.0)}


def test_the_bandwidth_cap_applies_at_once(
        make_config: Callable[..., Path], local_oss: LocalOSS,
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config()
    with _running(cfg, caplog) as daemon:
        _edit(cfg, max_bandwidth="5MB/s")
        said = _reload(daemon, caplog)
        assert "max_bandwidth is now 5 MB/s" in said
        assert daemon.throttle.rate == 5_000_000


def test_keys_that_need_a_restart_are_named_and_left_as_they_run(
        make_config: Callable[..., Path], local_oss: LocalOSS, drop: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config(workers=2)
    with _running(cfg, caplog) as daemon:
        _edit(cfg, workers=3, oss__bucket="another-bucket", part_concurrency=2,
              scan_interval="6m")
        said = _reload(daemon, caplog)
        assert "changed, needs a restart: " in said
        named = said.split("changed, needs a restart: ", 1)[1].splitlines()[0]
        assert {n.strip() for n in named.split(",")} == {"workers", "oss.bucket",
                                                         "part_concurrency"}
        assert daemon.config.workers == 2 and daemon.config.bucket == BUCKET
        assert daemon.config.scan_interval == 360.0  # the live one in the same edit applies
        # The next reload, with nothing more changed, still says what waits.
        assert "needs a restart: workers" in _reload(daemon, caplog)
        (drop / "still.jpg").write_bytes(jpeg_bytes(3000))
        wait_for(lambda: uploads(config_for(cfg).ledger), 20, "an upload")
    assert {u.bucket for u in uploads(config_for(cfg).ledger)} == {BUCKET}


def test_an_edit_that_does_not_load_keeps_the_running_config(
        make_config: Callable[..., Path], local_oss: LocalOSS,
        caplog: pytest.LogCaptureFixture) -> None:
    cfg = make_config()
    with _running(cfg, caplog) as daemon:
        before = daemon.config
        _edit(cfg, workers=0, strip_metdata="location")
        said = _reload(daemon, caplog)
        assert "reload failed, keeping the running config" in said
        assert "workers" in said and "strip_metdata" in said
        assert daemon.config is before
