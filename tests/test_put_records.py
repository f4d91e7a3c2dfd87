"""`ossync put` records its files in batches (ossync.cli.put_records): every file is still
recorded, one bad record costs only its own file, and bytes recorded a moment ago in the
same run are recognised."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from ossync.cli import main
from ossync.cli.put_records import BatchRecorder
from ossync.core.objects import UploadResult
from ossync.ledger import DirectRecord, Ledger, LedgerError
from ossync.localoss import LocalOSS

from .conftest import BUCKET
from .daemon_helpers import jpeg_bytes


def _record(i: int) -> DirectRecord:
    result = UploadResult(key=f"k/{i}.jpg", url=f"http://x/k/{i}.jpg", size=100 + i,
                          etag=f'"{i}"', crc64=i, request_id=f"r{i}")
    return DirectRecord(f"/drop/{i}.jpg", "put", i, f"{i:064x}", "image/jpeg", BUCKET,
                        result=result)


def _paths(ledger: Ledger) -> list[str]:
    return [str(r[0]) for r in ledger.query("SELECT path FROM files ORDER BY path")]


def test_every_record_handed_in_is_committed_by_close(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        records = BatchRecorder(ledger, delay=10.0, most=7)  # only `most` or close commits
        futures = [records.record(_record(i)) for i in range(20)]
        records.close()
        assert [f.result().key for f in futures] == [f"k/{i}.jpg" for i in range(20)]
        assert len(_paths(ledger)) == 20


def test_one_bad_record_costs_only_its_own_file(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        first = ledger.record_direct_many([_record(0)])[0]
        gone = replace(first, id=first.id + 1000)  # no such upload: the files row refuses it
        records = BatchRecorder(ledger, delay=10.0)
        good = [records.record(_record(i)) for i in (1, 2)]
        bad = records.record(replace(_record(3), result=None, existing=gone))
        more = records.record(_record(4))
        records.close()
        assert all(f.exception() is None for f in [*good, more])
        assert isinstance(bad.exception(), LedgerError)
        assert _paths(ledger) == [f"/drop/{i}.jpg" for i in (0, 1, 2, 4)]


def test_bytes_in_hand_are_committed_before_they_are_looked_up(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.db") as ledger:
        records = BatchRecorder(ledger, delay=10.0)
        records.record(_record(5))
        found = records.stored(BUCKET, f"{5:064x}")  # would wait 10 s for company
        records.close()
        assert found is not None and found.key == "k/5.jpg"


def test_twins_in_one_run_are_uploaded_once(write_config: Callable[..., Path],
                                            local_oss: LocalOSS, oss_env: dict[str, str],
                                            tmp_path: Path) -> None:
    cfg = write_config(local_oss.endpoint, workers=1)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg_bytes(3000))
    twin = tmp_path / "b.jpg"
    twin.write_bytes(photo.read_bytes())
    out, err = io.StringIO(), io.StringIO()
    assert main(["put", "-c", str(cfg), str(photo), str(twin)], stdout=out, stderr=err) == 0
    urls = out.getvalue().split()
    assert len(urls) == 2 and urls[0] == urls[1], err.getvalue()
    assert len(list(local_oss.app.buckets[BUCKET].snapshot())) == 1
    with Ledger.open(tmp_path / "ledger.db", readonly=True) as ledger:
        assert _paths(ledger) == [str(photo), str(twin)]


def test_a_record_the_ledger_refuses_fails_its_file(write_config: Callable[..., Path],
                                                    local_oss: LocalOSS,
                                                    oss_env: dict[str, str], tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """As when each file was recorded on the spot: no URL, the file named, exit 1."""
    from ossync.ledger.errors import LedgerUnavailable
    from ossync.ledger.sqlite.ledger import SqliteLedger

    def full(self: SqliteLedger, records: list[DirectRecord]) -> list[object]:
        raise LedgerUnavailable("database or disk is full")

    monkeypatch.setattr(SqliteLedger, "record_direct_many", full)
    cfg = write_config(local_oss.endpoint)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(jpeg_bytes(3000))
    out, err = io.StringIO(), io.StringIO()
    assert main(["put", "-c", str(cfg), str(photo)], stdout=out, stderr=err) == 1
    assert out.getvalue() == ""
    assert "a.jpg" in err.getvalue() and "disk is full" in err.getvalue()
