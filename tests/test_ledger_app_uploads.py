"""The ledger's forms given to apps (`AppUploads`), on both backends: written down before
the answer, recorded once (whoever reports it second changes nothing) with its upload,
files row and `file.uploaded` event in one transaction, checked again later, dropped
when never used."""

from __future__ import annotations

import json

import pytest

from ossync.core.objects import UploadResult
from ossync.ledger import Issued, Ledger, LedgerError


def _issued(n: int = 1, **changes: object) -> Issued:
    values: dict[str, object] = dict(
        id=f"upload{n:018d}", host="h1", folder="app", path=f"upload:upload{n:018d}/IMG.JPG",
        bucket="b", key=f"app/2026/12/06/IMG-upload{n:018d}.jpg", name="IMG.JPG", size=2345,
        content_type="image/jpeg", issued_at="2026-12-06T10:00:00.000Z",
        expires_at="2026-12-06T10:10:00.000Z", next_check="2026-12-06T10:10:00.000Z")
    values.update(changes)
    return Issued(**values)  # type: ignore[arg-type]


def _landed(issued: Issued, crc64: int | None = 12345678901234567890) -> UploadResult:
    return UploadResult(key=issued.key, url=f"http://store/b/{issued.key}", size=issued.size,
                        etag='"ABC"', crc64=crc64, request_id="REQ1")


def test_issued_forms_are_recorded_once(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        first, second = _issued(1), _issued(2, name="b\u202e.jpg")
        ledger.issue([first, second])
        assert ledger.issued(first.id) == first
        assert ledger.issued("never-issued") is None
        upload = ledger.record_issued(first, _landed(first))
        assert (upload.key, upload.size, upload.crc64, upload.sha256) == (
            first.key, 2345, "12345678901234567890", "")
        assert ledger.record_issued(first, _landed(first)) == upload  # a replay: no change
        recorded = ledger.issued(first.id)
        assert recorded is not None and recorded.state == "recorded"
        assert recorded.upload_id == upload.id
        item = ledger.item(first.path)
        assert item is not None and (item.state, item.folder, item.key, item.url) == (
            "uploaded", "app", first.key, upload.url)
        assert item.sha256 is None and item.size == 2345
        assert [i.path for i in ledger.iter_items(folder="app")] == [first.path]
        events = ledger.events_after(0)
        assert [e.type for e in events] == ["file.uploaded"]  # one, for all the calls
        data = json.loads(events[0].data)
        assert (data["path"], data["folder"], data["key"], data["duplicate"]) == (
            first.path, "app", first.key, False)


def test_s3_uploads_record_no_crc(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        issued = _issued()
        ledger.issue([issued])
        upload = ledger.record_issued(issued, _landed(issued, crc64=None))
        assert upload.crc64 is None and upload.etag == '"ABC"'
        found = ledger.upload_by_id(upload.id)
        assert found is not None and found.crc64 is None and found.sent_crc64 is None


def test_due_checks_and_drops(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        early = _issued(1, next_check="2026-12-06T10:01:00.000Z")
        late = _issued(2, next_check="2026-12-06T11:00:00.000Z")
        other = _issued(3, host="h2", next_check="2026-12-06T10:00:00.000Z")
        ledger.issue([early, late, other])
        assert [i.id for i in ledger.due_issued("2026-12-06T10:30:00.000Z")] == [early.id]
        ledger.check_later(early.id, "2026-12-06T12:00:00.000Z")
        again = ledger.issued(early.id)
        assert again is not None and again.checks == 1
        assert [i.id for i in ledger.due_issued("2026-12-06T11:30:00.000Z")] == [late.id]
        ledger.record_issued(late, _landed(late))
        assert ledger.due_issued("2026-12-07T00:00:00.000Z") == [ledger.issued(early.id)]
        assert not ledger.drop_issued(late.id)  # recorded meanwhile: kept
        assert ledger.drop_issued(early.id) and ledger.issued(early.id) is None


def test_a_key_is_issued_once(ledger_at: str) -> None:
    with Ledger.open(ledger_at, host="h1") as ledger:
        ledger.issue([_issued(1)])
        with pytest.raises(LedgerError):
            ledger.issue([_issued(2, key=_issued(1).key), _issued(3)])
        assert ledger.issued(_issued(3).id) is None  # the request's forms: all or none


def test_two_recorders_at_once_record_once(ledger_at: str) -> None:
    """A callback and a confirm at the same moment, each on its own connection: one
    records, the other gets the same upload; one event per form."""
    import threading

    forms = [_issued(n) for n in range(1, 11)]
    with Ledger.open(ledger_at, host="h1") as first, Ledger.open(ledger_at, host="h1") as second:
        first.issue(forms)
        got: dict[str, list[int]] = {f.id: [] for f in forms}
        errors: list[BaseException] = []
        start = threading.Barrier(2, timeout=30)

        def record(ledger: Ledger) -> None:
            try:
                start.wait()
                for form in forms:
                    got[form.id].append(ledger.record_issued(form, _landed(form)).id)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=record, args=(led,), name=f"test-recorder-{i}")
                   for i, led in enumerate((first, second))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert errors == [] and all(len(set(ids)) == 1 and len(ids) == 2
                                    for ids in got.values()), (errors, got)
        assert len(first.events_after(0, 100)) == len(forms)
        with pytest.raises(LedgerError):
            first.record_issued(_issued(99), _landed(_issued(99)))  # never issued
