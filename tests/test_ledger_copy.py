"""`ossync ledger copy`: SQLite → PostgreSQL and back, resumed after an interruption,
verified by counts and hashes; a copy that cannot match its source says so."""

from __future__ import annotations

import io
from datetime import datetime, timezone
from pathlib import Path

import pytest

from ossync.cli import ledger_copy, main
from ossync.ledger import Ledger, LedgerUnavailable, PostgresLedger, Settled, Sighting
from ossync.targets import UploadResult
from tests.pg_server import PgServer

from .queue_helpers import claim

pytestmark = pytest.mark.postgres


def _fill(location: str, n: int) -> None:
    """n uploaded paths (every third an alias of the one before), and some queued rows."""
    with Ledger.open(location, host="studio-1") as ledger:
        queue = ledger
        previous = None
        for i in range(n):
            path, sha = f"/drop/p{i:05d}.jpg", f"{i:064x}"
            if i % 3 == 2 and previous is not None:
                queue.record_direct(path, "cam", mtime_ns=i, sha256=previous.sha256,
                                    content_type="image/jpeg", bucket="b", existing=previous)
                continue
            result = UploadResult(key=f"k/{i}.jpg", url=f"http://x/k/{i}.jpg", size=i + 1,
                                  etag=f'"{i}"', crc64=2**64 - 1 - i)
            previous = queue.record_direct(path, "cam", mtime_ns=i, sha256=sha,
                                           content_type="image/jpeg", bucket="b", result=result)
        queue.note([Sighting(f"/drop/queued{i}.jpg", "cam", 5, 5, 0.0) for i in range(25)])
        row = claim(queue)
        assert row is not None
        queue.settle(row, Settled("failed", "cannot read: Permission denied", attempts=1))


def _copy(src: str, dst: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["ledger", "copy", src, dst], stdout=out, stderr=err)
    return code, out.getvalue() + err.getvalue()


def test_sqlite_to_postgres_and_back_resumes_and_verifies(
    tmp_path: Path, pg_server: PgServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sqlite_src = str(tmp_path / "ledger.db")
    _fill(sqlite_src, 2500)
    pg = pg_server.new_database()
    monkeypatch.setattr(ledger_copy, "BATCH", 400)
    real_copy_in = PostgresLedger.copy_in
    batches = {"n": 0}

    def cut_after_three(self: Ledger, uploads: list, files: list) -> None:  # type: ignore[type-arg]
        batches["n"] += 1
        if batches["n"] > 3:
            raise LedgerUnavailable("connection lost (the test cut it)")
        real_copy_in(self, uploads, files)

    with monkeypatch.context() as cut:
        cut.setattr(PostgresLedger, "copy_in", cut_after_three)
        code, text = _copy(sqlite_src, pg)
    assert code != 0 and "connection lost" in text
    with Ledger.open(pg, readonly=True) as partial:
        assert 0 < partial.max_ids()[0] < 1667  # some, not all, of the uploads arrived

    code, text = _copy(sqlite_src, pg)  # resumed: only the rest goes over
    assert code == 0, text
    assert "verified: 1667 uploads and 2525 files" in text
    with Ledger.open(sqlite_src, readonly=True) as a, Ledger.open(pg, readonly=True,
                                                                  host="studio-1") as b:
        assert ledger_copy.digest(a) == ledger_copy.digest(b)
        for path in ("/drop/p00000.jpg", "/drop/p00002.jpg", "/drop/p02499.jpg"):
            assert a.url_for(path) == b.url_for(path) is not None
        since = datetime(2000, 1, 1, tzinfo=timezone.utc)
        assert a.status_since(since) == b.status_since(since)

    back = str(tmp_path / "back.db")
    code, text = _copy(pg, back)
    assert code == 0, text
    with Ledger.open(back, readonly=True) as c, Ledger.open(sqlite_src, readonly=True) as a:
        assert ledger_copy.digest(c) == ledger_copy.digest(a)
        assert c.host == "studio-1" and c.url_for("/drop/p00005.jpg") == a.url_for(
            "/drop/p00005.jpg")
    with Ledger.open(pg) as ledger:  # the copy is a working ledger: new rows get new ids
        queue = ledger
        assert queue.note([Sighting("/drop/new.jpg", "cam", 1, 1, 0.0)]) == 1


def test_a_copy_into_a_ledger_with_other_rows_is_refused_as_mismatched(
    tmp_path: Path
) -> None:
    a, b = str(tmp_path / "a.db"), str(tmp_path / "b.db")
    _fill(a, 30)
    _fill(b, 40)
    code, text = _copy(a, b)
    assert code == 1
    assert "the copy differs from its source" in text and "daemons stopped" in text
