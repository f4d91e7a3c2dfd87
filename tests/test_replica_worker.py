"""A replica's worker, one copy at a time, over a real SQLite ledger, real files and the real
local target: the bytes the primary's worker read are sent and recorded; the same bytes
from another file are recorded against the object already there; a file changed since it
was read waits for the primary's worker to read it again; a file gone is skipped; a folder
that stopped copying to the replica forgets its copy."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from datetime import timezone
from pathlib import Path

from ossync.config import WatchConfig
from ossync.ledger import Content, CopyFacts, Ledger, Sighting
from ossync.targets.local import LocalTarget
from ossync.upload.prepare import read_facts
from ossync.upload.replica import CopyWorker, Replica
from ossync.upload.worker import Limits

from .daemon_helpers import jpeg_bytes
from .queue_helpers import claim

_STOPPED = threading.Event()
_STOPPED.set()


class Setup:
    def __init__(self, tmp_path: Path) -> None:
        self.drop = tmp_path / "drop"
        self.drop.mkdir()
        self.store = tmp_path / "nas"
        self.store.mkdir()
        self.ledger = Ledger.open(tmp_path / "ledger.db", host="h1")
        self.folder = WatchConfig(path=self.drop, label="drop", replicas=("nas",),
                                  settle_seconds=0.5)
        self.folders = {"drop": self.folder}
        self.worker = CopyWorker(self.ledger, self.ledger, LocalTarget(self.store),
                                 Replica("nas", str(self.store)),
                                 Limits(bucket="b", max_file_size=1 << 30,
                                        timezone=timezone.utc, host="h1"), self.folders)

    def read(self, name: str, data: bytes) -> None:
        """What the primary's worker does: note, claim, read once, share."""
        path = self.drop / name
        path.write_bytes(data)
        st = path.stat()
        self.ledger.note([Sighting(str(path), "drop", st.st_size, st.st_mtime_ns, 0.0)])
        row = claim(self.ledger)
        assert row is not None
        facts = read_facts(path)
        content = Content.unchanged(facts.sha256, facts.size, facts.crc64)
        assert self.ledger.share_copies(row, CopyFacts(facts.size, facts.mtime_ns, content,
                                                       "image/jpeg"), ("nas",)) == 1

    def run_one(self) -> None:
        copy = self.ledger.next_copy("nas", _STOPPED)
        assert copy is not None
        self.worker.process(copy)

    def copies(self) -> dict[str, tuple[str, bool, str | None]]:
        return {Path(p).name: (c.state, c.duplicate, c.key) for (_, p), cs in
                self.ledger.copies_for((f.host, f.path) for f in self.ledger.iter_files()
                                       ).items() for c in cs}


def test_a_copy_is_sent_verified_and_recorded_and_the_same_bytes_are_an_alias(
        tmp_path: Path) -> None:
    s = Setup(tmp_path)
    data = jpeg_bytes(3_000)
    s.read("a.jpg", data)
    s.read("b.jpg", data)
    s.run_one()
    s.run_one()
    copies = s.copies()
    assert sorted((state, dup) for state, dup, _ in copies.values()) == [
        ("uploaded", False), ("uploaded", True)]
    assert copies["a.jpg"][2] == copies["b.jpg"][2]  # one object holds both
    stored = [p for p in s.store.rglob("*") if p.is_file()]
    assert [p.read_bytes() for p in stored] == [data]
    s.ledger.close()


def test_a_file_changed_since_it_was_read_waits_and_one_gone_is_skipped(
        tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.read("a.jpg", jpeg_bytes(3_000))
    s.read("b.jpg", jpeg_bytes(4_000))
    (s.drop / "a.jpg").write_bytes(jpeg_bytes(3_500))  # another version
    os.unlink(s.drop / "b.jpg")
    s.run_one()
    s.run_one()
    copies = s.copies()
    assert copies["a.jpg"][0] == "pending"
    assert copies["b.jpg"][0] == "skipped"
    assert not any(p.is_file() for p in s.store.rglob("*"))
    s.ledger.close()


def test_a_folder_that_no_longer_copies_to_the_replica_forgets_its_copy(
        tmp_path: Path) -> None:
    s = Setup(tmp_path)
    s.read("a.jpg", jpeg_bytes(3_000))
    s.folders["drop"] = replace(s.folder, replicas=())
    s.run_one()
    assert s.copies() == {}
    s.ledger.close()
