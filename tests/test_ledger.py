"""Ledger and queue on real SQLite files: migrations, locking, queue transitions, crash reset."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ossync.ledger import Ledger, LedgerError, Settled, Sighting, Vanished
from ossync.ledger.sqlite.migrations import MIGRATIONS
from ossync.targets import UploadResult
from tests.pg_server import PgServer

from .queue_helpers import claim, record


def _sighting(path: str, size: int = 10, mtime_ns: int = 1, settle: float = 0.0) -> Sighting:
    return Sighting(path, "cam", size, mtime_ns, settle)


def test_open_creates_wal_ledger_with_recorded_migrations(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        assert ledger.query("PRAGMA journal_mode")[0][0] == "wal"
        names = [r["name"] for r in ledger.query("SELECT name FROM migrations")]
        assert names == [name for name, _ in MIGRATIONS]
        assert ledger.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    with Ledger.open(tmp_path / "l.db") as again:  # reopening applies nothing twice
        assert len(again.query("SELECT * FROM migrations")) == len(MIGRATIONS)


def test_second_daemon_is_refused(ledger_at: str) -> None:
    with Ledger.open(ledger_at, exclusive=True, host="cam-1"):
        with pytest.raises(LedgerError, match="another ossync daemon"):
            Ledger.open(ledger_at, exclusive=True, host="cam-1")
        with Ledger.open(ledger_at, readonly=True) as reader:  # readers are fine
            assert reader.counts() == {}


def test_lock_is_released_when_the_holder_dies(tmp_path: Path) -> None:
    code = ("import sys,os; from ossync.ledger import Ledger; "
            f"Ledger.open({str(tmp_path / 'l.db')!r}, exclusive=True); os._exit(0)")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    Ledger.open(tmp_path / "l.db", exclusive=True).close()


def test_corrupt_and_missing_ledgers_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="does not exist"):
        Ledger.open(tmp_path / "absent.db", readonly=True)
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="move it aside"):
        Ledger.open(bad)


def test_note_claim_and_record(ledger_at: str) -> None:
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        assert queue.note([_sighting("/d/a.jpg"), _sighting("/d/b.jpg")]) == 2
        assert queue.note([_sighting("/d/a.jpg")]) == 0  # unchanged: not queued again
        assert queue.known_unchanged("/d/a.jpg", 10, 1)
        row = claim(queue)
        assert row is not None and row.state == "uploading"
        assert ledger.file_by_path(row.path).state == "uploading"  # type: ignore[union-attr]
        queue.intend(row, sha256="ab" * 32, key="k/a.jpg")
        result = UploadResult(key="k/a.jpg", url="http://x/k/a.jpg", size=10, etag='"E"',
                              crc64=2**64 - 1)
        upload = record(queue, row, result, bucket="b", sha256="ab" * 32,
                                     content_type="image/jpeg", mtime_ns=1)
        assert upload.crc64 == str(2**64 - 1)  # unsigned 64-bit survives as text
        assert ledger.upload_for_path(row.path) == upload
        assert ledger.stored("b", "ab" * 32) == upload
        assert ledger.file_by_path(row.path).pending_key is None  # type: ignore[union-attr]
        # A changed file at the same path is queued again; its old upload stays recorded.
        assert queue.note([_sighting(row.path, size=11)]) == 1
        assert ledger.upload_by_key("b", "k/a.jpg") == upload


def test_settle_delay_and_next_row(ledger_at: str) -> None:
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        queue.note([_sighting("/d/a.jpg", settle=0.3)])
        assert claim(queue) is None  # not settled yet
        stop = threading.Event()
        began = time.monotonic()
        assert queue.next_row(stop) is None  # slept until it fell due
        assert 0.2 <= time.monotonic() - began < 2.0
        assert queue.next_row(stop) is not None


def test_notify_wakes_an_idle_waiter(ledger_at: str) -> None:
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        stop = threading.Event()
        woke = threading.Event()

        def waiter() -> None:
            queue.next_row(stop)
            woke.set()

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.2)
        assert not woke.is_set()  # idle: sleeping, not spinning
        queue.note([_sighting("/d/new.jpg")])
        assert woke.wait(2)
        thread.join(2)


def test_interrupted_rows_are_retried_after_a_crash(ledger_at: str) -> None:
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        queue.note([_sighting("/d/a.jpg")])
        row = claim(queue)
        assert row is not None
        queue.intend(row, sha256="cd" * 32, key="k/a.jpg")
    # "crash": reopen without finishing
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        assert queue.reset_interrupted() == 1
        again = claim(queue)
        assert again is not None and again.pending_key == "k/a.jpg"


def test_a_content_claim_no_worker_holds_is_taken_over(ledger_at: str) -> None:
    """A release that failed while the ledger was away leaves this host's claim behind;
    it must not keep those bytes from going for a whole lease."""
    sha = "ab" * 32
    with Ledger.open(ledger_at, host="h") as before:  # its release never happened
        assert before.claim_content("b", sha, durable=True)
    with Ledger.open(ledger_at, host="h") as ledger:
        assert ledger.claim_content("b", sha, durable=True)  # no worker here holds it
        assert not ledger.claim_content("b", sha, durable=True)  # one held here is
        ledger.release_content("b", sha)
        assert ledger.claim_content("b", sha, durable=True)
        assert not ledger.claim_content("b", sha)  # held in this process, durable or not


def test_claims_held_by_no_worker_go_back_after_an_outage(ledger_at: str) -> None:
    """A claim the ledger committed while its answer was lost holds a row nobody works
    on: after the outage every claimed row but those in hand goes back, due now."""
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        queue.note([_sighting("/d/held.jpg"), _sighting("/d/lost.jpg")])
        held, lost = claim(queue), claim(queue)
        assert held is not None and lost is not None
        assert queue.reset_interrupted(keep={held.id}) == 1
        states = {r.path: r.state for r in ledger.iter_files()}
        assert states == {held.path: "uploading", lost.path: "pending"}
        again = claim(queue)
        assert again is not None and again.path == lost.path


def test_a_verdict_on_an_old_version_never_buries_a_newer_one(ledger_at: str) -> None:
    """An empty placeholder is claimed and judged `skipped` (or found gone) while its
    bytes arrive and are noted: the newer version is queued, not left skipped or dropped
    (the chaos run lost a file this way)."""
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        for verdict in (Settled("skipped", "empty file (0 bytes)"), Vanished()):
            path = f"/d/{type(verdict).__name__}.jpg"
            queue.note([_sighting(path, size=0)])
            row = claim(queue)
            assert row is not None and row.size == 0
            queue.note([_sighting(path, size=74_693, mtime_ns=2)])  # the bytes arrive
            queue.settle(row, verdict)
            found = ledger.file_by_path(path)
            assert found is not None and (found.state, found.size) == ("pending", 74_693)
            again = claim(queue)
            assert again is not None and again.path == path


def test_readonly_reader_sees_writes_while_writer_is_open(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        ledger.note([_sighting("/d/a.jpg")])
        conn = sqlite3.connect(f"file:{tmp_path / 'l.db'}?mode=ro", uri=True)
        assert conn.execute("SELECT COUNT(*) FROM files").fetchone()[0] == 1
        conn.close()


def test_a_change_noted_during_the_upload_keeps_the_row_pending(ledger_at: str) -> None:
    with Ledger.open(ledger_at) as ledger:
        queue = ledger
        queue.note([_sighting("/d/a.jpg", size=10, mtime_ns=1)])
        row = claim(queue)
        assert row is not None
        queue.note([_sighting("/d/a.jpg", size=20, mtime_ns=2)])  # rewritten meanwhile
        result = UploadResult(key="k/a.jpg", url="u", size=10, etag=None, crc64=1)
        record(queue, row, result, bucket="b", sha256="ab" * 32,
                            content_type="image/jpeg", mtime_ns=1)
        after = ledger.file_by_path("/d/a.jpg")
        assert after is not None
        assert (after.state, after.size, after.mtime_ns) == ("pending", 20, 2)
        assert after.upload_id is not None  # the old bytes' upload stays recorded


@pytest.mark.postgres
def test_both_backends_have_the_same_tables_and_columns(tmp_path: Path,
                                                        pg_server: PgServer) -> None:
    """docs/ledger.md documents one schema: the PostgreSQL migrations must match SQLite's."""
    sqlite_file = tmp_path / "l.db"
    Ledger.open(sqlite_file).close()
    conn = sqlite3.connect(sqlite_file)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    sqlite_cols = {t: {r[1] for r in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    conn.close()
    url = pg_server.new_database()
    Ledger.open(url).close()
    database = url.rsplit("/", 1)[1]
    pg_cols: dict[str, set[str]] = {}
    for line in pg_server.sql("SELECT table_name, column_name FROM information_schema.columns "
                              "WHERE table_schema = 'public'", database=database).split():
        table, column = line.split("|")
        pg_cols.setdefault(table, set()).add(column)
    assert pg_cols.pop("ledger_changes") == {"id", "version"}  # PostgreSQL's change counter
    assert pg_cols == sqlite_cols


def test_multipart_checkpoints_keep_parts_until_the_upload_ends(ledger_at: str) -> None:
    """Both backends: a checkpoint per host and path, parts upserted as they land (a CRC
    past 2**63 kept exactly), a new begin replacing the old, end removing all."""
    from ossync.targets.multipart import Part

    with Ledger.open(ledger_at, host="h1") as ledger:
        first = ledger.multipart_begin(host="h1", path="/d/a.tif", bucket="b", key="k/a.tif",
                                       sha256="aa", size=300, part_size=100)
        assert ledger.multipart_of("h1", "/d/a.tif") is not None
        ledger.multipart_started(first, "UP1")
        ledger.multipart_part_done(first, Part(2, 100, '"E2"', 2**64 - 5))
        ledger.multipart_part_done(first, Part(1, 100, '"X"', 1))
        ledger.multipart_part_done(first, Part(1, 100, '"E1"', 11))  # sent again
        ledger.multipart_begin(host="h2", path="/d/a.tif", bucket="b", key="k/a.tif",
                               sha256="bb", size=300, part_size=100)
        found = ledger.multipart_of("h1", "/d/a.tif")
        assert found is not None
        row, parts = found
        assert (row.upload_id, row.key, row.sha256, row.size, row.part_size) == (
            "UP1", "k/a.tif", "aa", 300, 100)
        assert parts == [Part(1, 100, '"E1"', 11), Part(2, 100, '"E2"', 2**64 - 5)]
        assert [r.host for r in ledger.multipart_rows("h1")] == ["h1"]
        again = ledger.multipart_begin(host="h1", path="/d/a.tif", bucket="b",
                                       key="k/a2.tif", sha256="cc", size=300, part_size=100)
        renewed = ledger.multipart_of("h1", "/d/a.tif")
        assert renewed is not None and renewed[0].upload_id is None and renewed[1] == []
        ledger.multipart_end(again)
        assert ledger.multipart_of("h1", "/d/a.tif") is None
        assert ledger.multipart_of("h2", "/d/a.tif") is not None
