"""How a claimed row ends, in SQL: one transaction per outcome (ossync.ledger.outcomes),
and uploads recorded outside the queue (`ossync put`).

A verdict holds for the version of the file that was claimed (SAME): a newer version
noted while the row was in hand — an empty placeholder that got its bytes, a file
changed mid-upload — leaves the row pending instead, so nothing is buried.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ossync.core.objects import UploadResult
from ossync.core.textforms import ledger_text, printable
from ossync.ledger.events import NewEvent, file_failed, file_uploaded
from ossync.ledger.outcomes import Aliased, Deferred, Outcome, Settled, Uploaded, Vanished
from ossync.ledger.records import Content, DirectRecord, FileRow, Upload, now_text
from ossync.ledger.sql.base import Executor, SqlBase, as_record
from ossync.ledger.sql.claims import MINE, SAME, claimed


class SqlSettle(SqlBase):
    def settle(self, row: FileRow, outcome: Outcome) -> Upload | None:
        """One transaction; the event it tells of (an upload recorded, a file failed) is
        its last statement (ossync.ledger.events)."""
        upload: Upload | None = None
        event: NewEvent | None = None
        with self.transaction() as conn:
            if isinstance(outcome, Uploaded):
                upload, event = self._uploaded(conn, row, outcome)
            elif isinstance(outcome, Aliased):
                upload = outcome.upload
                if self._close_row(conn, row, upload_id=upload.id, sha256=outcome.sha256,
                                   size=outcome.size, mtime_ns=outcome.mtime_ns,
                                   stamp=now_text()):
                    event = self._upload_event(row, upload, size=outcome.size,
                                               sha256=outcome.sha256, duplicate=True)
            else:
                if isinstance(outcome, Deferred):
                    self._deferred(conn, row, outcome)
                elif isinstance(outcome, Settled):
                    event = self._settled(conn, row, outcome)
                else:
                    assert isinstance(outcome, Vanished)
                    self._vanished(conn, row)
                self._work_added(conn, {row.grp} if row.grp and not isinstance(
                    outcome, Vanished) else set())
            if event is not None:
                self._insert_event(conn, event)
        return upload

    def _upload_event(self, row: FileRow, upload: Upload, *, size: int, sha256: str,
                      duplicate: bool) -> NewEvent:
        return file_uploaded(upload, path=row.path, folder=row.folder, host=row.host or
                             self.host, size=size, sha256=sha256, duplicate=duplicate)

    def intend(self, row: FileRow, *, sha256: str, key: str,
               tagging: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE files SET sha256 = :sha, pending_key = :key, tagging_owed = "
                         f":tagging, updated_at = :stamp WHERE id = :id AND {MINE}",
                         {"sha": sha256, "key": key, "tagging": tagging, "stamp": now_text(),
                          "id": row.id, "me": self.host})

    def stored(self, bucket: str, sha256: str, sent_sha256: str | None = None
               ) -> Upload | None:
        """The first object recorded for a file with these bytes in this bucket; with
        `sent_sha256`, only one whose stored bytes have that hash too."""
        if sent_sha256 is None:
            return self._first(self.query(_STORED, (sha256, bucket)))
        return self._first(self.query(_STORED_SENT, (sha256, bucket, sent_sha256)))

    def _uploaded(self, conn: Executor, row: FileRow, outcome: Uploaded
                  ) -> tuple[Upload, NewEvent | None]:
        """Record the object; with `dedupe`, an object another sender recorded for the same
        bytes meanwhile wins, and the row points at it (the caller drops its copy). The
        event, unless the row was no longer this host's."""
        sent = None if outcome.content is None else outcome.content.sent_sha256
        upload = self._first(conn.execute(
            _STORED if sent is None else _STORED_SENT,
            (outcome.sha256, outcome.bucket) if sent is None else
            (outcome.sha256, outcome.bucket, sent)).fetchall()) if outcome.dedupe else None
        if upload is None or upload.key == outcome.result.key:
            upload = self._store_upload(conn, outcome.result, bucket=outcome.bucket,
                                        sha256=outcome.sha256,
                                        content_type=outcome.content_type, path=row.path,
                                        folder=row.folder, content=outcome.content)
        size = outcome.result.size if outcome.content is None else outcome.content.size
        closed = self._close_row(conn, row, upload_id=upload.id, sha256=outcome.sha256,
                                 size=size, mtime_ns=outcome.mtime_ns,
                                 stamp=upload.uploaded_at)
        self._release(conn, outcome.bucket, outcome.sha256)
        self._released(outcome.bucket, outcome.sha256)
        event = self._upload_event(row, upload, size=size, sha256=outcome.sha256,
                                   duplicate=upload.key != outcome.result.key)
        return upload, event if closed else None

    def _deferred(self, conn: Executor, row: FileRow, outcome: Deferred) -> None:
        conn.execute(
            "UPDATE files SET state = 'pending', next_attempt = :due, size = :size, "
            "mtime_ns = :mtime, last_error = COALESCE(:error, last_error), "
            "attempts = attempts + :add, updated_at = :stamp, claimed_by = NULL, "
            f"lease_until = NULL WHERE id = :id AND state = 'uploading' AND {MINE}",
            {"due": _due(outcome.delay), "error": _one_line(outcome.error),
             "size": row.size if outcome.size is None else outcome.size,
             "mtime": row.mtime_ns if outcome.mtime_ns is None else outcome.mtime_ns,
             "add": int(outcome.count_attempt), "stamp": now_text(), "id": row.id,
             "me": self.host})

    def _settled(self, conn: Executor, row: FileRow, outcome: Settled) -> NewEvent | None:
        """`file.failed` when the row did fail (not when a newer version was noted)."""
        ended = conn.execute(
            f"UPDATE files SET state = CASE WHEN {SAME} THEN :state ELSE "
            f"'pending' END, last_error = CASE WHEN {SAME} THEN :error ELSE "
            "last_error END, attempts = attempts + :add, updated_at = :stamp, "
            f"claimed_by = NULL, lease_until = NULL WHERE id = :id AND {MINE} "
            "RETURNING state, attempts",
            {"state": outcome.state, "error": _one_line(outcome.error),
             "add": outcome.attempts, "stamp": now_text(), **claimed(row),
             "me": self.host}).fetchone()
        if ended is None or ended["state"] != "failed":
            return None
        return file_failed(path=row.path, folder=row.folder, host=row.host or self.host,
                           error=outcome.error, attempts=int(ended["attempts"]),
                           sha256=row.sha256)

    def _vanished(self, conn: Executor, row: FileRow) -> None:
        """Its row goes — unless a newer version was noted meanwhile (then it is queued)
        or an earlier upload stands (then it says so)."""
        conn.execute(f"DELETE FROM files WHERE id = :id AND upload_id IS NULL AND {SAME} "
                     f"AND {MINE}", {**claimed(row), "me": self.host})
        conn.execute(f"UPDATE files SET state = CASE WHEN {SAME} THEN 'uploaded' ELSE "
                     "'pending' END, claimed_by = NULL, lease_until = NULL WHERE id = :id "
                     f"AND state = 'uploading' AND {MINE}", {**claimed(row), "me": self.host})

    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload:
        return self.record_direct_many([DirectRecord(path, folder, mtime_ns, sha256,
                                                     content_type, bucket, result,
                                                     existing)])[0]

    def record_direct_many(self, records: Sequence[DirectRecord]) -> list[Upload]:
        """One transaction for them all: each commit writes every index page it touches
        (16 for one file), so a batch costs a few files' worth, not one per file."""
        with self.transaction() as conn:
            return [self._record_direct(conn, record, now_text()) for record in records]

    def _record_direct(self, conn: Executor, record: DirectRecord, stamp: str) -> Upload:
        existing = record.existing
        if existing is None:
            assert record.result is not None
            existing = self._store_upload(conn, record.result, bucket=record.bucket,
                                          sha256=record.sha256,
                                          content_type=record.content_type, path=record.path,
                                          folder=record.folder)
        conn.execute(
            "INSERT INTO files (host, path, folder, size, mtime_ns, state, sha256, "
            "upload_id, seen_at, updated_at) VALUES (?, ?, ?, ?, ?, 'uploaded', ?, ?, ?, ?) "
            "ON CONFLICT (host, path) DO UPDATE SET folder = excluded.folder, "
            "size = excluded.size, mtime_ns = excluded.mtime_ns, state = 'uploaded', "
            "sha256 = excluded.sha256, upload_id = excluded.upload_id, attempts = 0, "
            "last_error = NULL, pending_key = NULL, tagging_owed = NULL, "
            "updated_at = excluded.updated_at",
            (self.host, ledger_text(record.path), record.folder, existing.size,
             record.mtime_ns, record.sha256, existing.id, stamp, stamp))
        # (an upsert: the path's row is always written, so always told of)
        self._insert_event(conn, file_uploaded(
            existing, path=record.path, folder=record.folder, host=self.host,
            size=existing.size, sha256=record.sha256, duplicate=record.result is None))
        return existing

    def _store_upload(self, conn: Executor, result: UploadResult, *, bucket: str, sha256: str,
                      content_type: str, path: str, folder: str,
                      content: Content | None = None) -> Upload:
        """Insert an uploads row, or return the one already there for this bucket and key.

        Without `content` the bytes sent are the file's: both stories are the result's."""
        if content is None:
            crc = None if result.crc64 is None else result.crc64
            content = Content(sha256, result.size, crc or 0, sha256, result.size, crc or 0)
            crc_text = None if crc is None else str(crc)
            sent_crc_text = crc_text
        else:
            crc_text, sent_crc_text = str(content.crc64), str(content.sent_crc64)
        conn.execute(
            "INSERT INTO uploads (bucket, key, url, sha256, size, crc64, etag, content_type, "
            "path, folder, uploaded_at, request_id, host, sent_sha256, sent_size, sent_crc64, "
            "strip_level, stripped) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (bucket, key) DO NOTHING",
            (bucket, result.key, result.url, sha256, content.size, crc_text, result.etag,
             content_type, ledger_text(path), folder, now_text(), result.request_id, self.host,
             content.sent_sha256, content.sent_size, sent_crc_text, content.strip_level,
             content.stripped))
        found = conn.execute("SELECT * FROM uploads WHERE bucket = ? AND key = ?",
                             (bucket, result.key)).fetchone()
        upload = as_record(Upload, found)
        assert upload is not None
        return upload

    def _close_row(self, conn: Executor, row: FileRow, *, upload_id: int, sha256: str,
                   size: int, mtime_ns: int, stamp: str) -> bool:
        """Mark the row uploaded — unless an event noted a newer version of the file while
        it was being sent: then the upload is linked, and the row stays pending for the new
        bytes. A row this host no longer holds is left alone (False)."""
        params: dict[str, Any] = {
            "upload": upload_id, "sha": sha256, "stamp": stamp, "size": size,
            "mtime": mtime_ns, **claimed(row), "me": self.host}
        return bool(conn.execute(
            "UPDATE files SET upload_id = :upload, sha256 = :sha, pending_key = NULL, "
            "tagging_owed = NULL, "
            "last_error = NULL, updated_at = :stamp, claimed_by = NULL, lease_until = NULL, "
            f"state = CASE WHEN {SAME} THEN 'uploaded' ELSE 'pending' END, "
            f"size = CASE WHEN {SAME} THEN :size ELSE size END, "
            f"mtime_ns = CASE WHEN {SAME} THEN :mtime ELSE mtime_ns END "
            f"WHERE id = :id AND {MINE}", params).rowcount)

    @staticmethod
    def _first(rows: list[Any]) -> Upload | None:
        return as_record(Upload, rows[0]) if rows else None

    if TYPE_CHECKING:  # ossync.ledger.waking: the process's own record of content claims
        def _released(self, bucket: str, sha256: str) -> None: ...

        # ossync.ledger.sql.outbox: an event, in the caller's transaction
        def _insert_event(self, conn: Executor, event: NewEvent) -> int: ...

    def _release(self, conn: Executor, bucket: str, sha256: str) -> None:
        """Drop a durable content claim of these bytes in the same transaction (a no-op
        when none was taken): the release costs no commit of its own."""
        conn.execute("DELETE FROM content_claims WHERE bucket = ? AND sha256 = ? AND "
                     "host = ?", (bucket, sha256, self.host))


_STORED = "SELECT * FROM uploads WHERE sha256 = ? AND bucket = ? ORDER BY id LIMIT 1"
_STORED_SENT = ("SELECT * FROM uploads WHERE sha256 = ? AND bucket = ? AND sent_sha256 = ? "
                "ORDER BY id LIMIT 1")


def _due(delay: float) -> float:
    """Due times are this host's clock (see ossync.ledger.sql.claims)."""
    return time.time() + delay


def _one_line(error: str | None) -> str | None:
    """An error text as stored and shown: one line of valid UTF-8, whatever file name or
    server message it quotes."""
    return None if error is None else printable(error)
