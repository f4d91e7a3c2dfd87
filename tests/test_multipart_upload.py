"""Big files as multipart uploads, against the strict local endpoint (OSS and S3
dialects), with progress journaled in a real SQLite ledger and faults from the fault
proxy: parallel parts, resume after an interruption sending only what is missing,
stale and never-recorded uploads aborted, a lost Complete answer recognised, no
overwrite of other content, and the official SDK listing what the store holds open."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from ossync.targets import FileChanged, KeyTaken, UploadInterrupted
from ossync.targets.multipart import MultipartSettings, Part
from ossync.targets.oss.target import OssTarget
from ossync.targets.s3.target import S3Target
from ossync.upload.journal import LedgerJournal
from ossync.upload.sweep import sweep
from tests.faults import FaultPlan, FaultProxy, Rule
from tests.oss_sdk import open_uploads, stored

from .conftest import BUCKET, REGION
from .queue_helpers import claim

KIB = 1024
SMALL = MultipartSettings(threshold=1024 * KIB, part_size=256 * KIB, concurrency=4)


@pytest.fixture
def proxy(local_oss: LocalOSS) -> Iterator[FaultProxy]:
    with FaultProxy(local_oss.endpoint, FaultPlan()) as p:
        yield p


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.db", host="test-host") as opened:
        yield opened


def _oss(endpoint: str, creds: Credentials, settings: MultipartSettings = SMALL,
         version: int = 4) -> OssTarget:
    return OssTarget(endpoint=endpoint, bucket=BUCKET, region=REGION, credentials=creds,
                     signature_version=version, multipart=settings)


def _file(tmp_path: Path, size: int, name: str = "scan.tif") -> Path:
    """A TIFF-looking file of random bytes (each call: new content)."""
    path = tmp_path / name
    path.write_bytes(b"II*\x00" + os.urandom(size - 4))
    return path


def _journal(ledger: Ledger, path: Path, stop: threading.Event | None = None) -> LedgerJournal:
    from ossync.upload.prepare import read_facts

    return LedgerJournal(ledger, host=ledger.host, path=str(path), bucket=BUCKET,
                         sha256=read_facts(path).sha256, stop=stop)


def _parts_sent(proxy: FaultProxy) -> list[int]:
    return sorted(int(path.split("partNumber=")[1].split("&")[0])
                  for method, path in proxy.server.requests
                  if method == "PUT" and "partNumber=" in path)


def _interrupted(target: Any, ledger: Ledger, path: Path, key: str, *, after: int,
                 match: str | None = None) -> None:
    """An upload of `path` whose owner starts stopping after `after` parts."""
    stop = StopAfter(ledger, host=ledger.host, path=str(path), bucket=BUCKET,
                     sha256=_journal(ledger, path).sha256, count=after)
    with pytest.raises(UploadInterrupted, match=match):
        target.upload(path, key, content_type="image/tiff", journal=stop)


class StopAfter(LedgerJournal):
    """A journal whose owner starts stopping once `count` parts are recorded (what
    SIGTERM does to the daemon's workers)."""

    def __init__(self, *args: Any, count: int, **kw: Any) -> None:
        super().__init__(*args, stop=threading.Event(), **kw)
        self.count = count

    def part_done(self, part: Part) -> None:
        super().part_done(part)
        self.count -= 1
        if self.count <= 0:
            assert self.stop is not None
            self.stop.set()


@pytest.mark.parametrize("version", [4, 1])
def test_big_file_goes_in_parallel_parts_and_is_verified(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path, version: int
) -> None:
    path = _file(tmp_path, 3 * 1024 * KIB + 5)
    data = path.read_bytes()
    target = _oss(proxy.endpoint, creds, version=version)
    try:
        result = target.upload(path, "big/scan.tif", content_type="image/tiff")
    finally:
        target.close()
    assert result.crc64 == crc64(data)
    assert result.size == len(data) and not result.already_present
    assert _parts_sent(proxy) == list(range(1, 14))  # 12 × 256 KiB + 5 bytes
    assert stored(local_oss, creds, "big/scan.tif") == data
    assert open_uploads(local_oss, creds) == []


def test_small_file_still_goes_as_one_post(proxy: FaultProxy, creds: Credentials,
                                           tmp_path: Path) -> None:
    path = _file(tmp_path, 1024 * KIB - 1)
    target = _oss(proxy.endpoint, creds)
    try:
        target.upload(path, "small.tif", content_type="image/tiff")
    finally:
        target.close()
    assert [m for m, _ in proxy.server.requests] == ["POST"]


def test_interrupted_upload_resumes_with_only_the_missing_parts(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path,
    ledger: Ledger
) -> None:
    path = _file(tmp_path, 4 * 1024 * KIB)
    data = path.read_bytes()
    target = _oss(proxy.endpoint, creds)
    try:
        _interrupted(target, ledger, path, "big/scan.tif", after=6, match="of 16 part")
        saved = ledger.multipart_of(ledger.host, str(path))
        assert saved is not None
        row, parts = saved
        assert row.upload_id and 6 <= len(parts) < 16
        before = set(_parts_sent(proxy))
        result = target.upload(path, "big/scan.tif", content_type="image/tiff",
                               journal=_journal(ledger, path))
    finally:
        target.close()
    again = _parts_sent(proxy)[len(before):]
    assert sorted(again) == sorted(set(range(1, 17)) - {p.number for p in parts})
    assert result.crc64 == crc64(data)
    assert stored(local_oss, creds, "big/scan.tif") == data
    assert ledger.multipart_of(ledger.host, str(path)) is None  # the checkpoint is gone
    assert open_uploads(local_oss, creds) == []


def test_parts_stored_but_never_journaled_are_recognised(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path,
    ledger: Ledger
) -> None:
    """A crash after the store took parts but before the ledger recorded them: the next
    attempt finds them by ListParts and keeps those whose MD5 is our bytes'."""
    path = _file(tmp_path, 2 * 1024 * KIB)
    target = _oss(proxy.endpoint, creds)
    store = target.multipart.store
    try:
        journal = _journal(ledger, path)
        journal.begin("big/scan.tif", path.stat().st_size, 256 * KIB)
        upload_id = store.initiate("big/scan.tif", "image/tiff")
        journal.started(upload_id)
        with path.open("rb") as fh:
            for number in (1, 2, 3):
                fh.seek((number - 1) * 256 * KIB)
                part = store.upload_part("big/scan.tif", upload_id, number, fh, 256 * KIB)
                if number == 1:
                    journal.part_done(part)  # only the first made it into the ledger
        sent_before = len(_parts_sent(proxy))
        target.upload(path, "big/scan.tif", content_type="image/tiff",
                      journal=_journal(ledger, path))
    finally:
        target.close()
    assert _parts_sent(proxy)[sent_before:] == [4, 5, 6, 7, 8]
    assert stored(local_oss, creds, "big/scan.tif") == path.read_bytes()


def test_a_checkpoint_for_other_bytes_is_aborted_and_started_fresh(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path,
    ledger: Ledger
) -> None:
    path = _file(tmp_path, 2 * 1024 * KIB)
    target = _oss(proxy.endpoint, creds)
    try:
        _interrupted(target, ledger, path, "old/scan.tif", after=2)
        old = open_uploads(local_oss, creds)
        assert [key for key, _ in old] == ["old/scan.tif"]
        _file(tmp_path, 2 * 1024 * KIB)  # new content at the same path
        result = target.upload(path, "new/scan.tif", content_type="image/tiff",
                               journal=_journal(ledger, path))
    finally:
        target.close()
    assert result.crc64 == crc64(path.read_bytes())
    assert open_uploads(local_oss, creds) == []  # the old upload was aborted


def test_an_upload_started_but_never_recorded_is_found_and_aborted(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path,
    ledger: Ledger
) -> None:
    """Killed between InitiateMultipartUpload and writing its id down: the key was
    written first, so the next attempt finds the orphan by ListMultipartUploads."""
    path = _file(tmp_path, 2 * 1024 * KIB)
    target = _oss(proxy.endpoint, creds)
    try:
        journal = _journal(ledger, path)
        journal.begin("big/scan.tif", path.stat().st_size, 256 * KIB)
        orphan = target.multipart.store.initiate("big/scan.tif", "image/tiff")
        assert ("big/scan.tif", orphan) in open_uploads(local_oss, creds)
        # Another file's upload under another key is none of this attempt's business.
        other = target.multipart.store.initiate("big/other.tif", "image/tiff")
        target.upload(path, "big/scan.tif", content_type="image/tiff",
                      journal=_journal(ledger, path))
    finally:
        target.close()
    assert open_uploads(local_oss, creds) == [("big/other.tif", other)]


def test_a_lost_complete_answer_is_recognised_as_our_object(
    local_oss: LocalOSS, creds: Credentials, tmp_path: Path, ledger: Ledger
) -> None:
    """The store joined the parts, the answer never came: the retry meets
    FileAlreadyExists and recognises its own object by size and CRC-64."""
    plan = FaultPlan(rules=[Rule("POST", "uploadId", "lost")])
    path = _file(tmp_path, 2 * 1024 * KIB)
    with FaultProxy(local_oss.endpoint, plan) as lossy:
        target = _oss(lossy.endpoint, creds)
        try:
            with pytest.raises(StoreError) as info:
                target.upload(path, "big/scan.tif", content_type="image/tiff",
                              journal=_journal(ledger, path))
            assert info.value.retryable
            parts_before = len(_parts_sent(lossy))
            result = target.upload(path, "big/scan.tif", content_type="image/tiff",
                                   journal=_journal(ledger, path))
        finally:
            target.close()
        assert len(_parts_sent(lossy)) == parts_before  # nothing sent twice
    assert result.already_present and result.crc64 == crc64(path.read_bytes())
    assert open_uploads(local_oss, creds) == []
    assert ledger.multipart_of(ledger.host, str(path)) is None


def test_other_content_under_the_key_is_never_overwritten(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path
) -> None:
    first, second = _file(tmp_path, 2 * 1024 * KIB, "a.tif"), _file(tmp_path, 2 * 1024 * KIB,
                                                                   "b.tif")
    target = _oss(proxy.endpoint, creds)
    try:
        target.upload(first, "same/key.tif", content_type="image/tiff")
        with pytest.raises(KeyTaken):
            target.upload(second, "same/key.tif", content_type="image/tiff")
    finally:
        target.close()
    assert stored(local_oss, creds, "same/key.tif") == first.read_bytes()
    assert open_uploads(local_oss, creds) == []


def test_a_file_that_changes_between_parts_is_not_completed(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path,
    ledger: Ledger
) -> None:
    path = _file(tmp_path, 2 * 1024 * KIB)

    class Grow(LedgerJournal):
        def part_done(self, part: Part) -> None:
            super().part_done(part)
            if part.number == 1:
                with path.open("ab") as fh:
                    fh.write(b"more")

    target = _oss(proxy.endpoint, creds, MultipartSettings(1024 * KIB, 256 * KIB, 1))
    try:
        journal = Grow(ledger, host=ledger.host, path=str(path), bucket=BUCKET,
                       sha256=_journal(ledger, path).sha256)
        with pytest.raises(FileChanged):
            target.upload(path, "big/scan.tif", content_type="image/tiff", journal=journal)
    finally:
        target.close()
    assert open_uploads(local_oss, creds) == []
    assert ledger.multipart_of(ledger.host, str(path)) is None


def test_a_damaged_part_is_sent_again(local_oss: LocalOSS, creds: Credentials,
                                      tmp_path: Path) -> None:
    plan = FaultPlan(rules=[Rule("PUT", "partNumber", "badcrc", times=2)])
    path = _file(tmp_path, 2 * 1024 * KIB)
    with FaultProxy(local_oss.endpoint, plan) as bad:
        target = _oss(bad.endpoint, creds)
        try:
            result = target.upload(path, "big/scan.tif", content_type="image/tiff")
        finally:
            target.close()
        assert len(_parts_sent(bad)) == 8 + 2
    assert result.crc64 == crc64(path.read_bytes())
    assert stored(local_oss, creds, "big/scan.tif") == path.read_bytes()


def test_sweep_aborts_uploads_whose_file_is_gone_and_keeps_queued_ones(
    local_oss: LocalOSS, creds: Credentials, tmp_path: Path, ledger: Ledger
) -> None:
    from ossync.ledger import Sighting

    gone = _file(tmp_path, 2 * 1024 * KIB, "gone.tif")
    queued = _file(tmp_path, 2 * 1024 * KIB, "queued.tif")
    ledger.note([Sighting(str(queued), "drop", queued.stat().st_size,
                          queued.stat().st_mtime_ns, 0.0)])
    target = _oss(local_oss.endpoint, creds)
    try:
        for path in (gone, queued):
            _interrupted(target, ledger, path, f"k/{path.name}", after=1)
        assert len(open_uploads(local_oss, creds)) == 2
        gone.unlink()
        assert sweep(ledger, target) == 1
    finally:
        target.close()
    assert [key for key, _ in open_uploads(local_oss, creds)] == ["k/queued.tif"]
    assert ledger.multipart_of(ledger.host, str(gone)) is None
    assert ledger.multipart_of(ledger.host, str(queued)) is not None


# --- the S3 dialect ------------------------------------------------------------------

S3_SETTINGS = MultipartSettings(threshold=6 * 1024 * KIB, part_size=5 * 1024 * KIB,
                                concurrency=3)


def _s3(endpoint: str, creds: Credentials) -> S3Target:
    return S3Target(endpoint=endpoint, bucket=BUCKET, region=REGION, credentials=creds,
                    multipart=S3_SETTINGS)


def _boto(server: LocalOSS, creds: Credentials) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=creds.access_key_id,
                        aws_secret_access_key=creds.access_key_secret)


def test_s3_multipart_upload_resumes_and_is_checked_by_etag(
    local_oss: LocalOSS, proxy: FaultProxy, creds: Credentials, tmp_path: Path,
    ledger: Ledger
) -> None:
    path = _file(tmp_path, 17 * 1024 * KIB + 3)
    data = path.read_bytes()
    target = _s3(proxy.endpoint, creds)
    try:
        _interrupted(target, ledger, path, "s3/scan.tif", after=1)
        sent_first = set(_parts_sent(proxy))
        result = target.upload(path, "s3/scan.tif", content_type="image/tiff",
                               journal=_journal(ledger, path))
        again = target.upload(path, "s3/scan.tif", content_type="image/tiff")
    finally:
        target.close()
    assert sent_first.isdisjoint(_parts_sent(proxy)[len(sent_first):])
    assert result.crc64 == crc64(data) and again.already_present
    client = _boto(local_oss, creds)
    assert client.get_object(Bucket=BUCKET, Key="s3/scan.tif")["Body"].read() == data
    assert client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_sweep_leaves_an_upload_in_a_workers_hands_alone(
    local_oss: LocalOSS, creds: Credentials, tmp_path: Path, ledger: Ledger
) -> None:
    """Even when its file changed meanwhile: the worker's own attempt finds that out."""
    from ossync.ledger import Sighting

    path = _file(tmp_path, 2 * 1024 * KIB, "busy.tif")
    ledger.note([Sighting(str(path), "drop", path.stat().st_size, path.stat().st_mtime_ns,
                          0.0)])
    assert claim(ledger) is not None  # now `uploading`
    target = _oss(local_oss.endpoint, creds)
    try:
        _interrupted(target, ledger, path, "k/busy.tif", after=1)
        with path.open("ab") as fh:
            fh.write(b"more")
        assert sweep(ledger, target) == 0
    finally:
        target.close()
    assert [key for key, _ in open_uploads(local_oss, creds)] == ["k/busy.tif"]
