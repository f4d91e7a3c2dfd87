"""One retry policy: the waits it gives (the same numbers the worker, the parts and the
credential refresher always had), and a stop that cuts every wait short — down to a
part of a multipart upload waiting to be sent again, against the strict local
endpoint behind the fault proxy."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.core.objects import UploadInterrupted, UploadResult
from ossync.core.retry import FRESH_KEYS, PARTS, RESIGN, RetryPolicy
from ossync.ledger import Ledger
from ossync.localoss import LocalOSS
from ossync.targets.multipart import MultipartSettings
from ossync.targets.oss.target import OssTarget
from ossync.upload.journal import LedgerJournal
from ossync.upload.prepare import read_facts
from tests.faults import FaultPlan, FaultProxy, Rule

from .conftest import BUCKET, REGION

KIB = 1024


def test_a_whole_files_waits_double_with_jitter_up_to_the_longest() -> None:
    policy = RetryPolicy(initial=2.0, longest=600.0)
    for failures, step in [(1, 2.0), (2, 4.0), (3, 8.0), (9, 512.0), (10, 600.0),
                           (10_000, 600.0)]:
        waits = [policy.delay(failures) for _ in range(200)]
        assert all(step / 2 <= w <= step for w in waits), failures
        assert max(waits) - min(waits) > step / 10  # drawn, not fixed
    assert policy.again(10_000)  # a whole file is never given up on


def test_a_part_is_tried_three_times_one_and_two_seconds_apart() -> None:
    assert [PARTS.delay(n) for n in (1, 2)] == [1.0, 2.0]
    assert [PARTS.again(n) for n in (1, 2, 3)] == [True, True, False]


def test_resends_go_at_once_and_once() -> None:
    """Their callers hold no stop event: a resend that waited could hold up a stop."""
    for policy in (FRESH_KEYS, RESIGN):
        assert policy.delay(1) == 0 and policy.again(1) and not policy.again(2)


def test_a_stop_cuts_a_wait_short() -> None:
    policy = RetryPolicy(initial=30.0, jitter=0.0)
    stop = threading.Event()
    stop.set()
    started = time.monotonic()
    assert policy.wait(1, stop) is False
    timer = threading.Timer(0.1, stop.set)
    stop.clear()
    timer.start()
    assert policy.wait(1, stop) is False
    timer.join()
    assert time.monotonic() - started < 1.0
    assert RetryPolicy(initial=0.01, jitter=0.0).wait(1, None) is True


def test_a_stop_during_a_parts_retry_wait_ends_the_upload_at_once(
        local_oss: LocalOSS, creds: Credentials, tmp_path: Path) -> None:
    """Every part is refused (503) until the stop; the stop comes while the parts wait
    to be sent again, and the upload ends within a fraction of a second, not after the
    policy's 1 s + 2 s. The ledger keeps the upload, which the next attempt completes."""
    path = tmp_path / "scan.tif"
    path.write_bytes(b"II*\x00" + os.urandom(2 * 1024 * KIB - 4))
    refuse = Rule("PUT", "partNumber", "error", times=1000)
    settings = MultipartSettings(threshold=1024 * KIB, part_size=256 * KIB, concurrency=2)
    stop = threading.Event()
    outcome: list[BaseException | UploadResult] = []
    with Ledger.open(tmp_path / "ledger.db", host="h") as ledger, \
            FaultProxy(local_oss.endpoint, FaultPlan(rules=[refuse])) as proxy:
        target = OssTarget(endpoint=proxy.endpoint, bucket=BUCKET, region=REGION,
                           credentials=creds, multipart=settings)

        def upload(stop: threading.Event | None) -> UploadResult:
            journal = LedgerJournal(ledger, host="h", path=str(path), bucket=BUCKET,
                                    sha256=read_facts(path).sha256, stop=stop)
            return target.upload(path, "big/scan.tif", content_type="image/tiff",
                                 journal=journal)

        def run() -> None:
            try:
                outcome.append(upload(stop))
            except BaseException as exc:
                outcome.append(exc)

        sender = threading.Thread(target=run)
        try:
            sender.start()
            deadline = time.monotonic() + 10
            while proxy.counts["error"] < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(0.2)  # both parts refused once, and waiting their 1 s
            refused = proxy.counts["error"]
            stop.set()
            stopped = time.monotonic()
            sender.join(5)
            took = time.monotonic() - stopped
            assert not sender.is_alive()
            assert took < 0.5, f"the stop waited {took:.2f}s for a retry"
            assert len(outcome) == 1 and isinstance(outcome[0], UploadInterrupted), outcome
            assert proxy.counts["error"] == refused == 2  # no part was sent again
            saved = ledger.multipart_of("h", str(path))
            assert saved is not None and saved[0].upload_id
            refuse.times = 0
            result = upload(None)
        finally:
            sender.join()
            target.close()
    assert result.crc64 == crc64(path.read_bytes())
    assert not result.already_present


@pytest.mark.parametrize("refusals, parts_sent", [(1, 9), (2, 10), (3, 3)])
def test_a_refused_part_goes_again_as_the_policy_says(
        local_oss: LocalOSS, creds: Credentials, tmp_path: Path, refusals: int,
        parts_sent: int) -> None:
    """Unchanged by going through the policy: a part is tried up to three times, 1 s and
    2 s apart; then the file fails, retryable, for the worker to defer."""
    path = tmp_path / "scan.tif"
    path.write_bytes(b"II*\x00" + os.urandom(2 * 1024 * KIB - 4))
    plan = FaultPlan(rules=[Rule("PUT", "partNumber", "error", times=refusals)])
    settings = MultipartSettings(threshold=1024 * KIB, part_size=256 * KIB, concurrency=1)
    with FaultProxy(local_oss.endpoint, plan) as proxy:
        target = OssTarget(endpoint=proxy.endpoint, bucket=BUCKET, region=REGION,
                           credentials=creds, multipart=settings)
        started = time.monotonic()
        try:
            if PARTS.again(refusals):
                target.upload(path, "big/scan.tif", content_type="image/tiff")
            else:
                with pytest.raises(StoreError) as failed:
                    target.upload(path, "big/scan.tif", content_type="image/tiff")
                assert failed.value.retryable
        finally:
            target.close()
        took = time.monotonic() - started
        puts = [p for m, p in proxy.server.requests if m == "PUT" and "partNumber" in p]
    assert len(puts) == parts_sent
    waits = [PARTS.delay(n) for n in range(1, refusals + 1) if PARTS.again(n)]
    assert took >= sum(waits)
