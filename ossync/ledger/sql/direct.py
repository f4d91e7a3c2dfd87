"""Forms given to apps (`app_uploads`) and their recording, in SQL (the `AppUploads`
contract).

A form is written down before its answer goes out, so whatever reports the object
later (OSS's callback, the app's confirm, the periodic check) finds what was issued, and
nothing else can be recorded. Recording is one transaction that moves the form from
`issued` to `recorded` and writes the upload, its files row and its `file.uploaded`
event: whoever comes second finds it recorded and changes nothing.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import astuple
from typing import TYPE_CHECKING

from ossync.core.objects import UploadResult
from ossync.core.textforms import ledger_text
from ossync.ledger.errors import LedgerError
from ossync.ledger.events import NewEvent, file_uploaded
from ossync.ledger.records import Content, Issued, Upload, now_text
from ossync.ledger.sql.base import Executor, SqlBase, as_record

UNKNOWN_SHA256 = ""  # an app's bytes never pass through ossync: their hash is not known
_COLUMNS = ("id, host, folder, path, bucket, key, name, size, content_type, issued_at, "
            "expires_at, state, upload_id, checks, next_check")


class SqlDirect(SqlBase):
    def issue(self, issued: Iterable[Issued]) -> None:
        rows = [astuple(i) for i in issued]
        with self.transaction() as conn:
            conn.executemany(f"INSERT INTO app_uploads ({_COLUMNS}) VALUES "
                             "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def issued(self, upload_id: str) -> Issued | None:
        return self.one(Issued, "SELECT * FROM app_uploads WHERE id = ?", (upload_id,))

    def record_issued(self, issued: Issued, result: UploadResult) -> Upload:
        with self.transaction() as conn:
            # The form is taken first: of two recorders at once (a callback and a confirm,
            # on PostgreSQL), the second waits here and then finds it recorded.
            taken = conn.execute("UPDATE app_uploads SET state = 'recorded' WHERE id = ? AND "
                                 "state = 'issued'", (issued.id,)).rowcount
            if not taken:
                existing = _upload_of(conn, issued.id)
                if existing is None:
                    raise LedgerError(f"no form {issued.id} to record (never issued, or "
                                      "dropped unused)")
                return existing
            crc = result.crc64 or 0
            upload = self._store_upload(
                conn, result, bucket=issued.bucket, sha256=UNKNOWN_SHA256,
                content_type=issued.content_type, path=issued.path, folder=issued.folder,
                content=Content(UNKNOWN_SHA256, result.size, crc, UNKNOWN_SHA256,
                                result.size, crc))
            if result.crc64 is None:  # S3 tells no CRC-64: none is recorded, not a zero
                conn.execute("UPDATE uploads SET crc64 = NULL, sent_crc64 = NULL WHERE id = ?",
                             (upload.id,))
                upload = dataclasses.replace(upload, crc64=None, sent_crc64=None)
            conn.execute("UPDATE app_uploads SET upload_id = ? WHERE id = ?",
                         (upload.id, issued.id))
            stamp = now_text()
            conn.execute(
                "INSERT INTO files (host, path, folder, size, mtime_ns, state, upload_id, "
                "seen_at, updated_at) VALUES (?, ?, ?, ?, ?, 'uploaded', ?, ?, ?)",
                (self.host, ledger_text(issued.path), issued.folder, result.size,
                 time.time_ns(), upload.id, issued.issued_at, stamp))
            self._insert_event(conn, file_uploaded(
                upload, path=issued.path, folder=issued.folder, host=self.host,
                size=result.size, sha256=UNKNOWN_SHA256, duplicate=False))
        return upload

    def due_issued(self, before: str, limit: int = 100) -> list[Issued]:
        rows = self.query("SELECT * FROM app_uploads WHERE host = ? AND state = 'issued' "
                          f"AND next_check <= ? ORDER BY next_check LIMIT {int(limit)}",
                          (self.host, before))
        return [i for i in (as_record(Issued, r) for r in rows) if i is not None]

    def check_later(self, upload_id: str, when: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE app_uploads SET checks = checks + 1, next_check = ? "
                         "WHERE id = ? AND state = 'issued'", (when, upload_id))

    def drop_issued(self, upload_id: str) -> bool:
        with self.transaction() as conn:
            return bool(conn.execute("DELETE FROM app_uploads WHERE id = ? AND "
                                     "state = 'issued'", (upload_id,)).rowcount)

    if TYPE_CHECKING:  # ossync.ledger.sql.settling and ossync.ledger.sql.outbox
        def _store_upload(self, conn: Executor, result: UploadResult, *, bucket: str,
                          sha256: str, content_type: str, path: str, folder: str,
                          content: Content | None = None) -> Upload: ...

        def _insert_event(self, conn: Executor, event: NewEvent) -> int: ...


def _upload_of(conn: Executor, upload_id: str) -> Upload | None:
    """The upload a recorded form points at (None: not recorded yet)."""
    found = conn.execute("SELECT u.* FROM app_uploads a JOIN uploads u ON u.id = a.upload_id "
                         "WHERE a.id = ? AND a.state = 'recorded'", (upload_id,)).fetchone()
    return as_record(Upload, found)
