"""The worker on its own: one claimed row to one outcome, each in milliseconds — through
in-memory stand-ins of the ledger's `Queue` and `Checkpoints` (tests/fakes.py), real
files in a real folder and the real local target (with a fault injected where a store
must fail)."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import timezone
from pathlib import Path
from typing import Any

import pytest

from ossync.config import WatchConfig
from ossync.core.credentials import CredentialsUnavailable
from ossync.core.errors import StoreError
from ossync.intake.openfiles import OpenWriters
from ossync.ledger import Aliased, Deferred, Settled, Uploaded, Vanished
from ossync.targets import FileChanged, KeyTaken
from ossync.upload.worker import CLAIM_WAIT, CREDENTIALS_WAIT, Limits, Worker

from .daemon_helpers import jpeg_bytes
from .fakes import FakeQueue, FaultyStore, NoCheckpoints, row_for


class Rig:
    """A worker over a drop folder, a fake queue and the local store."""

    def __init__(self, tmp_path: Path, **folder: Any) -> None:
        self.drop = tmp_path / "drop"
        self.drop.mkdir()
        self.folder = WatchConfig(path=self.drop, label="drop",
                                  **{"settle_seconds": 2.0, "date_source": "mtime", **folder})
        self.queue = FakeQueue()
        (tmp_path / "store").mkdir()
        self.store = FaultyStore(tmp_path / "store")
        self.limits = Limits(bucket="b", max_file_size=10_000_000, timezone=timezone.utc,
                             host="h")
        self.worker = Worker(self.queue, NoCheckpoints(), self.store, self.limits,
                             {"drop": self.folder}, OpenWriters([str(self.drop)]))

    def drop_file(self, name: str, data: bytes) -> Path:
        path = self.drop / name
        path.write_bytes(data)
        old = time.time() - 120  # long settled (a JPEG's end-marker grace is past)
        os.utime(path, (old, old))
        return path

    def run(self, path: Path, **row: Any) -> Any:
        self.worker.process(row_for(path, **row))
        return self.queue.last


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)


def test_a_new_photo_is_uploaded_and_recorded(rig: Rig) -> None:
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000, seed=1))
    outcome = rig.run(photo)
    assert isinstance(outcome, Uploaded) and outcome.bucket == "b"
    assert (rig.store.root / outcome.result.key).read_bytes() == photo.read_bytes()
    assert outcome.result.crc64 is not None and outcome.dedupe
    assert rig.queue.intents == []  # a key a retry works out again is not written first
    assert not rig.queue.held  # the content claim went with the record


def test_the_same_bytes_again_are_an_alias(rig: Rig) -> None:
    first = rig.drop_file("a.jpg", jpeg_bytes(3000, seed=1))
    rig.run(first)
    copy = rig.drop_file("copy of a.jpg", first.read_bytes())
    outcome = rig.run(copy)
    assert isinstance(outcome, Aliased) and outcome.upload.path == str(first)
    assert len(rig.store.uploaded) == 1


def test_bytes_another_sender_recorded_meanwhile_win(rig: Rig) -> None:
    """The dedupe look-up found nothing, but by the record the same bytes were there:
    the row points at theirs and our copy is removed."""
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000, seed=1))
    rig.run(photo)
    theirs = rig.queue.uploads[0]
    rig.queue.uploads[0] = replace(theirs, key="other/key.jpg")
    rig.queue.unseen = True  # the look-up before sending misses them: they come later
    again = rig.drop_file("again.jpg", photo.read_bytes())
    outcome = rig.run(again)
    assert isinstance(outcome, Uploaded) and outcome.dedupe
    assert rig.store.deleted == [rig.store.uploaded[-1]]


def test_a_file_that_changed_since_it_was_seen_waits_to_settle(rig: Rig) -> None:
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000))
    row = row_for(photo, size=10)  # the queue saw it at 10 bytes
    rig.worker.process(row)
    outcome = rig.queue.last
    assert isinstance(outcome, Deferred) and outcome.delay == rig.folder.settle_seconds
    assert outcome.size == photo.stat().st_size  # what it looks like now


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("empty.jpg", b"", "empty file (0 bytes)"),
    ("text.jpg", b"hello, not a photo", "content is not a supported image type"),
])
def test_files_that_are_not_for_upload_are_skipped(rig: Rig, name: str, data: bytes,
                                                  reason: str) -> None:
    outcome = rig.run(rig.drop_file(name, data))
    assert isinstance(outcome, Settled) and outcome.state == "skipped"
    assert reason in (outcome.error or "")


def test_a_symlink_is_never_followed(rig: Rig, tmp_path: Path) -> None:
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(jpeg_bytes(3000))
    link = rig.drop / "link.jpg"
    link.symlink_to(outside)
    outcome = rig.run(link)
    assert isinstance(outcome, Settled) and "symlink" in (outcome.error or "")
    assert not rig.store.uploaded


def test_too_big_fails_with_both_sizes(rig: Rig, tmp_path: Path) -> None:
    rig.worker.limits = Limits(bucket="b", max_file_size=100, timezone=timezone.utc)
    outcome = rig.run(rig.drop_file("big.jpg", jpeg_bytes(3000)))
    assert isinstance(outcome, Settled) and outcome.state == "failed"
    assert "over max_file_size (100)" in (outcome.error or "")


def test_a_file_that_vanished_is_forgotten(rig: Rig) -> None:
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000))
    row = row_for(photo)
    photo.unlink()
    rig.worker.process(row)
    assert isinstance(rig.queue.last, Vanished)


def test_a_jpeg_without_its_end_marker_waits(rig: Rig) -> None:
    photo = rig.drop / "scan.jpg"
    photo.write_bytes(jpeg_bytes(3000)[:-2])  # no FF D9 yet, written just now
    outcome = rig.run(photo)
    assert isinstance(outcome, Deferred)
    assert not rig.store.uploaded


def test_bytes_another_worker_is_sending_wait_their_turn(rig: Rig) -> None:
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000, seed=4))
    rig.queue.busy.add(hashlib.sha256(photo.read_bytes()).hexdigest())
    outcome = rig.run(photo)
    assert isinstance(outcome, Deferred) and outcome.delay == CLAIM_WAIT


@pytest.mark.parametrize(("fault", "check"), [
    (StoreError("upload", "k", "RequestTimeout", "slow", retryable=True),
     lambda o: isinstance(o, Deferred) and o.count_attempt and o.code == "RequestTimeout"),
    (StoreError("upload", "k", "AccessDenied", "no", retryable=False),
     lambda o: isinstance(o, Settled) and o.state == "failed"
     and "AccessDenied" in (o.error or "")),
    (FileChanged("grew"), lambda o: isinstance(o, Deferred) and not o.count_attempt),
    (CredentialsUnavailable("expired"),
     lambda o: isinstance(o, Deferred) and o.delay == CREDENTIALS_WAIT
     and "held" in (o.error or "")),
])
def test_what_a_store_answers_decides_the_outcome(rig: Rig, fault: Exception,
                                                  check: Callable[[Any], bool]) -> None:
    rig.store.fail = fault
    outcome = rig.run(rig.drop_file("a.jpg", jpeg_bytes(3000)))
    assert check(outcome), outcome
    assert not rig.queue.held  # the bytes are free for the next try


def test_a_key_holding_other_bytes_falls_back_to_the_full_hash_name(rig: Rig) -> None:
    rig.store.fail = KeyTaken("images/x.jpg")
    outcome = rig.run(rig.drop_file("a.jpg", jpeg_bytes(3000, seed=5)))
    assert isinstance(outcome, Uploaded)
    sha = outcome.sha256
    assert sha in outcome.result.key  # {stem}-{sha256}{ext}
    assert rig.queue.intents == [(sha, outcome.result.key)]  # written before that POST


def test_bytes_that_arrived_different_are_removed_and_retried(rig: Rig) -> None:
    rig.store.crc = 12345  # the store reports another CRC-64 than the file's
    outcome = rig.run(rig.drop_file("a.jpg", jpeg_bytes(3000)))
    assert isinstance(outcome, Deferred)
    assert rig.store.deleted == rig.store.uploaded


def test_an_upload_date_in_the_key_is_written_down_first(tmp_path: Path) -> None:
    rig = Rig(tmp_path, date_source="upload")
    outcome = rig.run(rig.drop_file("a.jpg", jpeg_bytes(3000)))
    assert isinstance(outcome, Uploaded)
    assert rig.queue.intents == [(outcome.sha256, outcome.result.key)]


def test_a_folder_no_longer_configured_is_skipped(rig: Rig) -> None:
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000))
    outcome = rig.run(photo, folder="gone")
    assert isinstance(outcome, Settled) and "no longer configured" in (outcome.error or "")


def test_after_upload_delete_removes_only_the_file_sent(tmp_path: Path) -> None:
    rig = Rig(tmp_path, after_upload="delete")
    photo = rig.drop_file("a.jpg", jpeg_bytes(3000))
    assert isinstance(rig.run(photo), Uploaded)
    assert not photo.exists()
