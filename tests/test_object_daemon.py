"""The daemon sends each folder's object options and ossync's record with every file, and
owes no tags after a crash: a kill -9 between the POST and PutObjectTagging ends, after
a restart, with the object tagged and sent once (both ledgers)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import alibabacloud_oss_v2 as oss_v2
import pytest

from ossync.core.credentials import Credentials
from ossync.core.record import ObjectRecord
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from tests.conftest import BUCKET
from tests.daemon_helpers import (
    DaemonProcess,
    config_for,
    daemon_thread,
    jpeg_bytes,
    uploaded_paths,
    uploads,
    wait_for,
)
from tests.oss_sdk import sdk_client

pytestmark = pytest.mark.timeout(240)


class _Requests(logging.Handler):
    """Every request the local endpoint answered, as `METHOD /path -> status`."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("local-oss: ") and " -> " in text:
            self.lines.append(text.removeprefix("local-oss: "))


@pytest.fixture
def requests_seen() -> Iterator[_Requests]:
    handler = _Requests()
    logger = logging.getLogger("ossync.localoss")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _tags(server: LocalOSS, creds: Credentials, key: str) -> dict[str, str]:
    result = sdk_client(server, creds).get_object_tagging(
        oss_v2.GetObjectTaggingRequest(bucket=BUCKET, key=key))
    return {t.key: t.value for t in result.tag_set.tags or []}


def _head(server: LocalOSS, creds: Credentials, key: str) -> oss_v2.HeadObjectResult:
    return sdk_client(server, creds).head_object(oss_v2.HeadObjectRequest(bucket=BUCKET, key=key))


def test_each_folder_sends_its_options_and_the_record(
        make_config: Callable[..., Path], local_oss: LocalOSS, creds: Credentials, drop: Path,
        tmp_path: Path) -> None:
    other = tmp_path / "scans"
    (other / "sub").mkdir(parents=True)
    cfg = make_config(
        watch=[{"path": str(drop), "label": "drop"},
               {"path": str(other), "label": "scans", "storage_class": "Archive",
                "tags": {"kind": "scan"}, "object_record": "absolute"}],
        storage_class="IA", tags={"source": "ossync", "from": "{folder}"},
        metadata={"project": "atlas"}, cache_control="max-age=60",
        content_disposition='inline; filename="{name}"')
    photo, scan = jpeg_bytes(30_000), jpeg_bytes(31_000)
    (drop / "图 a.jpg").write_bytes(photo)
    (other / "sub" / "b.jpg").write_bytes(scan)
    config = config_for(cfg)
    with daemon_thread(config):
        wait_for(lambda: len(uploaded_paths(config.ledger)) == 2, 60, "both uploads")
    rows = {Path(u.path).name: u for u in uploads(config.ledger)}
    head = _head(local_oss, creds, rows["图 a.jpg"].key)
    assert head.storage_class == "IA" and head.cache_control == "max-age=60"
    assert head.content_disposition == ("inline; filename=\"_ a.jpg\"; "
                                        "filename*=UTF-8''%E5%9B%BE%20a.jpg")
    assert head.metadata["project"] == "atlas"
    record = ObjectRecord.from_metadata(head.metadata)
    assert record is not None
    assert (record.sha256, record.size, record.folder, record.path, record.abspath) == (
        hashlib.sha256(photo).hexdigest(), len(photo), "drop", "图 a.jpg", None)
    assert record.host == config.host and record.mtime_ns == (drop / "图 a.jpg").stat().st_mtime_ns
    assert _tags(local_oss, creds, rows["图 a.jpg"].key) == {"source": "ossync", "from": "drop"}
    scan_head = _head(local_oss, creds, rows["b.jpg"].key)
    scan_record = ObjectRecord.from_metadata(scan_head.metadata)
    assert scan_head.storage_class == "Archive" and scan_record is not None
    assert (scan_record.path, scan_record.abspath) == ("sub/b.jpg", str(other / "sub" / "b.jpg"))
    assert _tags(local_oss, creds, rows["b.jpg"].key) == {"kind": "scan"}
    with Ledger.open(config.ledger, readonly=True) as ledger:
        assert all(f.tagging_owed is None for f in ledger.iter_files())


def test_kill_9_between_post_and_tagging_tags_the_object_sent_once(
        make_config: Callable[..., Path], local_oss: LocalOSS, creds: Credentials, drop: Path,
        tmp_path: Path, ledger_at: str, requests_seen: _Requests) -> None:
    cfg = make_config(workers=1, ledger=ledger_at, tags={"source": "ossync"})
    (drop / "a.jpg").write_bytes(jpeg_bytes(25_000))
    log = tmp_path / "daemon.log"
    first = DaemonProcess(cfg, log, {**os.environ, "OSSYNC_FAILPOINTS": "worker.posted=hang"})

    def owed() -> list[str]:
        with Ledger.open(ledger_at, readonly=True) as ledger:
            return [f.tagging_owed for f in ledger.iter_files() if f.tagging_owed]

    try:
        first.wait_ready()
        assert wait_for(owed, 60, "the tags written down as owed") == ["source=ossync"]
        first.kill()
    finally:
        first.stop()
    posts = [line for line in requests_seen.lines if line.startswith(f"POST /{BUCKET}/ ")]
    assert len(posts) == 1 and not uploaded_paths(ledger_at)
    key = next(o.key for o in local_oss.app.buckets[BUCKET].snapshot())
    assert _tags(local_oss, creds, key) == {}  # stored, not tagged yet
    second = DaemonProcess(cfg, log, dict(os.environ))
    try:
        second.wait_ready()
        wait_for(lambda: uploaded_paths(ledger_at), 60, "the row recorded")
    finally:
        assert second.stop() == 0
    assert _tags(local_oss, creds, key) == {"source": "ossync"}
    assert [line for line in requests_seen.lines if line.startswith(f"POST /{BUCKET}/ ")] == posts
    assert [u.key for u in uploads(ledger_at)] == [key]
    assert "still to be tagged" in log.read_text(errors="replace")
    assert not owed()
