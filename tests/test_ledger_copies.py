"""The replicas' side of the ledger, on both backends: copies shared by the worker that read
a file, taken and settled per destination, deduplicated within a destination, put back
after a crash, filled in for a replica added later and forgotten for one removed; and
a ledger written by the release before replicas, opened by this one, keeping every URL."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from ossync.ledger import (
    Content,
    Copied,
    CopyAliased,
    CopyFacts,
    CopyRow,
    Deferred,
    FileRow,
    Ledger,
    Settled,
    Sighting,
    Vanished,
    copy_claim,
)
from ossync.ledger.postgres.migrations import MIGRATIONS as PG_MIGRATIONS
from ossync.ledger.sqlite.migrations import MIGRATIONS
from ossync.targets import UploadResult
from tests.pg_server import PgServer

from .queue_helpers import claim, record

_STOPPED = threading.Event()
_STOPPED.set()
SHA = "ab" * 32


def _facts(row: FileRow, sha: str = SHA, sent: str | None = None) -> CopyFacts:
    content = Content(sha, row.size, 7, sent or sha, row.size, 7 if sent is None else 8)
    return CopyFacts(row.size, row.mtime_ns, content, "image/jpeg")


def _claimed(ledger: Ledger, path: str, size: int = 10) -> FileRow:
    ledger.note([Sighting(path, "cam", size, 1, 0.0)])
    row = claim(ledger)
    assert row is not None and row.path == path
    return row


def _upload(ledger: Ledger, row: FileRow, key: str, sha: str = SHA) -> None:
    result = UploadResult(key=key, url=f"http://primary/{key}", size=row.size, etag='"E"',
                          crc64=7)
    record(ledger, row, result, bucket="b", sha256=sha, content_type="image/jpeg",
           mtime_ns=row.mtime_ns)


def _take(ledger: Ledger, destination: str) -> CopyRow:
    copy = ledger.next_copy(destination, _STOPPED)
    assert copy is not None and copy.state == "uploading"
    return copy


def _copied(key: str) -> Copied:
    return Copied(UploadResult(key=key, url=f"http://nas/{key}", size=10, etag='"N"',
                               crc64=7), "nas-bucket")


def test_a_file_read_once_is_shared_with_each_replica(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        assert ledger.share_copies(row, _facts(row), ("nas", "offsite")) == 2
        assert ledger.next_copy("elsewhere", _STOPPED) is None
        copy = _take(ledger, "nas")
        assert (copy.path, copy.folder, copy.sha256, copy.size, copy.content_type) == (
            "/d/a.jpg", "cam", SHA, 10, "image/jpeg")
        assert ledger.next_copy("nas", _STOPPED) is None  # the one copy is in hand
        assert not ledger.copies_complete(row.id, SHA, ("nas",))  # nothing stored yet
        _upload(ledger, row, "k/a.jpg")
        ledger.settle_copy(copy, _copied("k/a.jpg"))
        assert ledger.copies_complete(row.id, SHA, ("nas",))
        assert not ledger.copies_complete(row.id, SHA, ("nas", "offsite"))
        other = _take(ledger, "offsite")
        ledger.settle_copy(other, Copied(UploadResult(key="o/a.jpg", url="http://off/o/a.jpg",
                                                      size=10, etag=None, crc64=7), "off"))
        assert ledger.copies_complete(row.id, SHA, ("nas", "offsite"))
        copies = ledger.copies_of("/d/a.jpg")
        assert [(c.destination, c.state, c.url) for c in copies] == [
            ("nas", "uploaded", "http://nas/k/a.jpg"), ("offsite", "uploaded", "http://off/o/a.jpg")]
        events = [e for e in ledger.events_after(0) if e.type == "copy.stored"]
        assert [json.loads(e.data)["destination"] for e in events] == ["nas", "offsite"]
        data = json.loads(events[0].data)
        assert (data["path"], data["key"], data["url"], data["duplicate"]) == (
            "/d/a.jpg", "k/a.jpg", "http://nas/k/a.jpg", False)
        # the primary's record is what it always was
        assert ledger.url_for("/d/a.jpg") == "http://primary/k/a.jpg"


def test_sharing_again_keeps_a_copy_of_the_same_bytes_and_redoes_one_of_others(
        ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        ledger.share_copies(row, _facts(row), ("nas",))
        ledger.settle_copy(_take(ledger, "nas"), _copied("k/a.jpg"))
        _upload(ledger, row, "k/a.jpg")
        ledger.note([Sighting("/d/a.jpg", "cam", 10, 2, 0.0)])  # touched: same bytes
        again = claim(ledger)
        assert again is not None
        assert ledger.share_copies(again, _facts(again), ("nas",)) == 1
        assert [c.state for c in ledger.copies_of("/d/a.jpg")] == ["uploaded"]
        assert ledger.next_copy("nas", _STOPPED) is None  # nothing to send again
        ledger.settle(again, Settled("skipped", "test"))
        ledger.note([Sighting("/d/a.jpg", "cam", 12, 3, 0.0)])  # new bytes
        third = claim(ledger)
        assert third is not None
        ledger.share_copies(third, _facts(third, "cd" * 32), ("nas",))
        [copy] = ledger.copies_of("/d/a.jpg")
        assert (copy.state, copy.url, copy.key) == ("pending", None, None)
        assert _take(ledger, "nas").sha256 == "cd" * 32


def test_a_copy_in_flight_when_other_bytes_are_shared_waits_for_them(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        ledger.share_copies(row, _facts(row), ("nas",))
        old = _take(ledger, "nas")
        ledger.settle(row, Settled("skipped", "test"))
        ledger.note([Sighting("/d/a.jpg", "cam", 12, 3, 0.0)])
        new = claim(ledger)
        assert new is not None
        ledger.share_copies(new, _facts(new, "cd" * 32), ("nas",))
        ledger.settle_copy(old, _copied("k/old.jpg"))  # the old bytes' object: not theirs
        [copy] = ledger.copies_of("/d/a.jpg")
        assert (copy.state, copy.key) == ("pending", None)
        assert not [e for e in ledger.events_after(0) if e.type == "copy.stored"]


def test_a_share_from_a_row_no_longer_held_or_changed_writes_nothing(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        ledger.note([Sighting("/d/a.jpg", "cam", 11, 2, 0.0)])  # a newer version noted
        assert ledger.share_copies(row, _facts(row), ("nas",)) == 0
        assert ledger.copies_of("/d/a.jpg") == []


def test_copies_are_deduplicated_within_a_destination(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        first = _claimed(ledger, "/d/a.jpg")
        ledger.share_copies(first, _facts(first), ("nas",))
        ledger.settle_copy(_take(ledger, "nas"), _copied("k/a.jpg"))
        assert ledger.copy_stored("nas", SHA, SHA) is not None
        assert ledger.copy_stored("offsite", SHA, SHA) is None
        assert ledger.copy_stored("nas", SHA, "ef" * 32) is None  # other bytes sent
        second = _claimed(ledger, "/d/copy of a.jpg")
        ledger.share_copies(second, _facts(second), ("nas",))
        copy = _take(ledger, "nas")
        existing = ledger.copy_stored("nas", copy.sha256, copy.sent_sha256)
        assert existing is not None and existing.path == "/d/a.jpg"
        ledger.settle_copy(copy, CopyAliased(existing))
        [alias] = ledger.copies_of("/d/copy of a.jpg")
        assert (alias.key, alias.url, alias.duplicate) == ("k/a.jpg", "http://nas/k/a.jpg",
                                                           True)


def test_deferred_failed_and_forgotten_copies(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        ledger.share_copies(row, _facts(row), ("nas", "offsite", "old"))
        nas = _take(ledger, "nas")
        assert ledger.claim_content(copy_claim("nas"), SHA)
        ledger.settle_copy(nas, Deferred(60, error="RequestTimeout: slow", count_attempt=True))
        ledger.release_content(copy_claim("nas"), SHA)
        assert ledger.next_copy("nas", _STOPPED) is None  # backing off: due in 60 s
        [nas_now] = [c for c in ledger.copies_of("/d/a.jpg") if c.destination == "nas"]
        assert (nas_now.state, nas_now.attempts, nas_now.last_error) == (
            "pending", 1, "RequestTimeout: slow")
        ledger.settle_copy(_take(ledger, "offsite"), Settled("failed", "AccessDenied", 1))
        failed = [e for e in ledger.events_after(0) if e.type == "copy.failed"]
        assert json.loads(failed[0].data)["destination"] == "offsite"
        ledger.settle_copy(_take(ledger, "old"), Vanished())
        assert {c.destination for c in ledger.copies_of("/d/a.jpg")} == {"nas", "offsite"}
        assert ledger.retry_failed(["/d/a.jpg"]) == 1  # the failed copy goes again
        assert _take(ledger, "offsite").attempts == 0


def test_copies_in_hand_at_a_crash_go_back(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        ledger.share_copies(row, _facts(row), ("nas", "offsite"))
        first, second = _take(ledger, "nas"), _take(ledger, "offsite")
        assert ledger.renew_leases() == 1  # the file; copies' leases go with it
        assert ledger.reset_interrupted(keep=[row.id], keep_copies=[second.id]) == 1
        assert _take(ledger, "nas").id == first.id
    with Ledger.open(ledger_at, host="h1") as ledger:
        assert ledger.reset_interrupted() == 3  # the file and both copies


def test_a_replica_added_later_is_filled_in_by_batches(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        for i in range(5):
            row = _claimed(ledger, f"/d/{i}.jpg")
            _upload(ledger, row, f"k/{i}.jpg", sha=f"{i:02d}" * 32)
        ledger.note([Sighting("/other/x.jpg", "other", 10, 1, 0.0)])
        other = claim(ledger)
        assert other is not None
        _upload(ledger, other, "k/x.jpg", sha="ff" * 32)
        added, last = ledger.backfill("nas", ["cam"], limit=3)
        assert added == 3
        assert ledger.copy_backlog("nas") == 3
        more, end = ledger.backfill("nas", ["cam"], after=last, limit=3)
        assert more == 2 and end > last
        assert ledger.backfill("nas", ["cam"], after=end) == (0, end)
        assert ledger.backfill("nas", ["cam"]) == (0, 0)  # from the start: all there
        copy = _take(ledger, "nas")
        assert (copy.sha256, copy.sent_sha256, copy.content_type, copy.crc64) == (
            copy.sha256, copy.sha256, "image/jpeg", "7")
        assert ledger.copy_counts() == {"nas": {"pending": 4, "uploading": 1}}
        assert ledger.forget_copies(["offsite"]) == {"nas": 5}
        assert ledger.copy_counts() == {}
        assert ledger.backfill("nas", ["cam"], limit=2)[0] == 2
        assert ledger.forget_copies([]) == {"nas": 2}  # no replicas left at all
        assert ledger.copy_counts() == {}
        assert ledger.url_for("/d/0.jpg") == "http://primary/k/0.jpg"  # the primary untouched


def test_one_replicas_view_lists_status_and_items(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        row = _claimed(ledger, "/d/a.jpg")
        ledger.share_copies(row, _facts(row), ("nas",))
        ledger.settle_copy(_take(ledger, "nas"), _copied("k/a.jpg"))
        late = _claimed(ledger, "/d/b.jpg")
        ledger.share_copies(late, _facts(late, "cd" * 32), ("nas",))
        items = list(ledger.iter_copy_items("nas", state=None))
        assert [(i.path, i.state, i.url) for i in items] == [
            ("/d/b.jpg", "pending", None), ("/d/a.jpg", "uploaded", "http://nas/k/a.jpg")]
        assert [i.path for i in ledger.iter_copy_items("nas")] == ["/d/a.jpg"]
        status = ledger.copy_status("nas")
        assert (status.queued, status.uploaded_files, status.uploads_total,
                status.uploaded_today) == (1, 1, 1, 1)
        assert status.oldest_pending_since is not None
        found = ledger.copies_for([("h1", "/d/a.jpg"), ("h1", "/d/b.jpg"), ("h1", "/none")])
        assert sorted(found) == [("h1", "/d/a.jpg"), ("h1", "/d/b.jpg")]


def test_multipart_checkpoints_are_kept_per_destination(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        primary = ledger.multipart_begin(host="h1", path="/d/a.tif", bucket="b", key="k",
                                         sha256="aa", size=300, part_size=100)
        replica = ledger.multipart_begin(host="h1", path="/d/a.tif", bucket="nb", key="k",
                                         sha256="aa", size=300, part_size=100,
                                         destination="nas")
        assert primary != replica
        found = ledger.multipart_of("h1", "/d/a.tif", "nas")
        assert found is not None and found[0].destination == "nas"
        assert ledger.multipart_of("h1", "/d/a.tif") is not None
        assert [r.destination for r in ledger.multipart_rows("h1")] == ["", "nas"]
        ledger.multipart_end(replica)
        assert ledger.multipart_of("h1", "/d/a.tif", "nas") is None
        assert ledger.multipart_of("h1", "/d/a.tif") is not None


# --- a ledger written by the release before replicas ----------------------------------

_OLD_ROWS = [  # (path, key, url, state)
    ("/srv/drop/a.jpg", "images/a-1.jpg", "http://oss/images/a-1.jpg", "uploaded"),
    ("/srv/drop/b.jpg", "images/b-2.jpg", "https://cdn.example.com/images/b-2.jpg",
     "uploaded"),
]


def _old_rows(run: Callable[[str], object]) -> None:
    """What a 0.2 daemon wrote: uploads, their files, a pending file, a checkpoint."""
    when = "'2026-11-01T00:00:00.000Z'"
    for i, (path, key, url, _state) in enumerate(_OLD_ROWS, 1):
        sha = f"{i:02d}" * 32
        run("INSERT INTO uploads (id, bucket, key, url, sha256, size, crc64, etag, "
            "content_type, path, folder, uploaded_at, host, sent_sha256, sent_size, "
            f"sent_crc64) VALUES ({i}, 'b', '{key}', '{url}', '{sha}', 10, '7', '\"E\"', "
            f"'image/jpeg', '{path}', 'drop', {when}, 'h1', '{sha}', 10, '7')")
        run("INSERT INTO files (host, path, folder, size, mtime_ns, state, sha256, "
            f"upload_id, seen_at, updated_at) VALUES ('h1', '{path}', 'drop', 10, 1, "
            f"'uploaded', '{sha}', {i}, {when}, {when})")
    run("INSERT INTO files (host, path, folder, size, mtime_ns, state, seen_at, updated_at) "
        "VALUES ('h1', '/srv/drop/c.jpg', 'drop', 10, 1, 'pending', "
        "'2026-11-01T00:00:00.000Z', '2026-11-01T00:00:00.000Z')")
    run("INSERT INTO multipart_uploads (host, path, bucket, key, upload_id, sha256, size, "
        "part_size, started_at) VALUES ('h1', '/srv/drop/big.tif', 'b', 'images/big.tif', "
        "'UP1', 'aa', 300, 100, '2026-11-01T00:00:00.000Z')")
    run("INSERT INTO multipart_parts (upload, number, size, etag, crc64) VALUES "
        "(1, 1, 100, '\"P1\"', '5')")


def _check_migrated(ledger: Ledger) -> None:
    for path, _key, url, _state in _OLD_ROWS:
        assert ledger.url_for(path) == url
        assert ledger.copies_of(path) == []
    assert {f.path: f.state for f in ledger.iter_files()} == {
        "/srv/drop/a.jpg": "uploaded", "/srv/drop/b.jpg": "uploaded",
        "/srv/drop/c.jpg": "pending"}
    found = ledger.multipart_of("h1", "/srv/drop/big.tif")
    assert found is not None and found[0].upload_id == "UP1" and len(found[1]) == 1
    assert found[0].destination == ""
    # nothing is queued again: the uploaded files stay uploaded, nothing waits to be sent
    assert ledger.status().uploaded_files == 2 and ledger.copy_counts() == {}
    # and a replica configured now is filled in from those very rows
    assert ledger.backfill("nas", ["drop"])[0] == 2


def sqlite_of_the_release_before(path: Path) -> sqlite3.Connection:
    """A new SQLite ledger with the tables of the release before replicas (migrations up
    to 0008, as that release recorded them), open for the caller's rows."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    released = [m for m in MIGRATIONS if m[0] <= "0008_events_and_deliveries"]
    for number, (name, sql) in enumerate(released, 1):
        conn.executescript(sql)
        conn.execute("INSERT INTO migrations VALUES (?, '2026-11-01T00:00:00.000Z')", (name,))
        conn.execute(f"PRAGMA user_version = {number}")
    return conn


def test_a_sqlite_ledger_of_the_release_before_keeps_every_url(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite_of_the_release_before(path)
    _old_rows(conn.execute)
    conn.commit()
    conn.close()
    with Ledger.open(path, exclusive=True, host="h1") as ledger:
        _check_migrated(ledger)
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


@pytest.mark.postgres
def test_a_postgres_ledger_of_the_release_before_keeps_every_url(pg_server: PgServer
                                                                   ) -> None:
    import psycopg

    url = pg_server.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, sql in [m for m in PG_MIGRATIONS if m[0] <= "0006_events_and_deliveries"]:
            conn.execute(sql.encode())
            conn.execute("INSERT INTO migrations VALUES (%s, '2026-11-01T00:00:00.000Z')",
                         (name,))
        _old_rows(lambda sql: conn.execute(sql.replace("%", "%%").encode()))
        conn.execute("SELECT setval(pg_get_serial_sequence('uploads', 'id'), 2)")
    with Ledger.open(url, exclusive=True, host="h1") as ledger:
        _check_migrated(ledger)
