"""The work queue's statements on SQLite: the `files` table and its link to `uploads`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ossync.ledger.records import FileRow, Sighting, Upload, now_text
from ossync.ledger.sqlite.base import SqliteBase, as_record
from ossync.targets import UploadResult


class SqliteQueue(SqliteBase):
    def note(self, sightings: Iterable[Sighting], now: float) -> int:
        queued = 0
        stamp = now_text()
        with self.transaction() as conn:
            for s in sightings:
                row = conn.execute("SELECT id, size, mtime_ns, state FROM files WHERE path = ?",
                                   (s.path,)).fetchone()
                if row is None:
                    conn.execute(
                        "INSERT INTO files (path, folder, size, mtime_ns, state, next_attempt, "
                        "seen_at, updated_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)",
                        (s.path, s.folder, s.size, s.mtime_ns, now + s.settle, stamp, stamp))
                    queued += 1
                elif (row["size"], row["mtime_ns"]) != (s.size, s.mtime_ns):
                    conn.execute(
                        "UPDATE files SET size = ?, mtime_ns = ?, folder = ?, "
                        "state = CASE state WHEN 'uploading' THEN 'uploading' ELSE 'pending' END, "
                        "attempts = 0, last_error = NULL, next_attempt = ?, updated_at = ? "
                        "WHERE id = ?",
                        (s.size, s.mtime_ns, s.folder, now + s.settle, stamp, row["id"]))
                    queued += 1
        return queued

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        rows = self.query("SELECT size, mtime_ns FROM files WHERE path = ?", (path,))
        return bool(rows) and (rows[0]["size"], rows[0]["mtime_ns"]) == (size, mtime_ns)

    def reset_interrupted(self) -> int:
        with self.transaction() as conn:
            cur = conn.execute("UPDATE files SET state = 'pending', next_attempt = 0 "
                               "WHERE state = 'uploading'")
            return cur.rowcount

    def claim(self, now: float) -> FileRow | None:
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM files WHERE state = 'pending' AND next_attempt <= ? "
                "ORDER BY next_attempt LIMIT 1", (now,)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE files SET state = 'uploading', updated_at = ? WHERE id = ?",
                         (now_text(), row["id"]))
        return as_record(FileRow, row)

    def next_due(self) -> float | None:
        due = self.query("SELECT MIN(next_attempt) AS due FROM files "
                         "WHERE state = 'pending'")[0]["due"]
        return None if due is None else float(due)

    def defer(self, row: FileRow, *, due: float, size: int, mtime_ns: int,
              error: str | None, count_attempt: bool) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE files SET state = 'pending', next_attempt = ?, size = ?, mtime_ns = ?, "
                "last_error = COALESCE(?, last_error), attempts = attempts + ?, updated_at = ? "
                "WHERE id = ? AND state = 'uploading'",
                (due, size, mtime_ns, error, int(count_attempt), now_text(), row.id))

    def intend(self, row: FileRow, *, sha256: str, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE files SET sha256 = ?, pending_key = ?, updated_at = ? "
                         "WHERE id = ?", (sha256, key, now_text(), row.id))

    def finish(self, row: FileRow, *, size: int, mtime_ns: int, sha256: str,
               upload: Upload) -> None:
        with self.transaction() as conn:
            _close_row(conn, row, upload_id=upload.id, sha256=sha256, size=size,
                       mtime_ns=mtime_ns, stamp=now_text())

    def record_upload(self, row: FileRow, result: UploadResult, *, bucket: str, sha256: str,
                      content_type: str, mtime_ns: int) -> Upload:
        with self.transaction() as conn:
            upload = _store_upload(conn, result, bucket=bucket, sha256=sha256,
                                   content_type=content_type, path=row.path, folder=row.folder)
            _close_row(conn, row, upload_id=upload.id, sha256=sha256, size=result.size,
                       mtime_ns=mtime_ns, stamp=upload.uploaded_at)
        return upload

    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload:
        stamp = now_text()
        with self.transaction() as conn:
            if existing is None:
                assert result is not None
                existing = _store_upload(conn, result, bucket=bucket, sha256=sha256,
                                         content_type=content_type, path=path, folder=folder)
            conn.execute(
                "INSERT INTO files (path, folder, size, mtime_ns, state, sha256, upload_id, "
                "seen_at, updated_at) VALUES (?, ?, ?, ?, 'uploaded', ?, ?, ?, ?) "
                "ON CONFLICT (path) DO UPDATE SET folder = excluded.folder, "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, state = 'uploaded', "
                "sha256 = excluded.sha256, upload_id = excluded.upload_id, attempts = 0, "
                "last_error = NULL, pending_key = NULL, updated_at = excluded.updated_at",
                (path, folder, existing.size, mtime_ns, sha256, existing.id, stamp, stamp))
        return existing

    def settle_terminal(self, row: FileRow, state: str, error: str | None,
                        attempts: int | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE files SET state = ?, last_error = ?, attempts = attempts + ?, "
                         "updated_at = ? WHERE id = ?",
                         (state, error, attempts or 0, now_text(), row.id))

    def forget(self, row: FileRow) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM files WHERE id = ? AND upload_id IS NULL", (row.id,))
            conn.execute("UPDATE files SET state = 'uploaded' WHERE id = ? AND "
                         "upload_id IS NOT NULL AND state = 'uploading'", (row.id,))

    def retry_failed(self, paths: list[str] | None = None) -> int:
        sql = ("UPDATE files SET state = 'pending', attempts = 0, next_attempt = 0, "
               "updated_at = ? WHERE state = 'failed'")
        with self.transaction() as conn:
            if paths is None:
                return conn.execute(sql, (now_text(),)).rowcount
            return sum(conn.execute(sql + " AND path = ?", (now_text(), p)).rowcount
                       for p in paths)


def _store_upload(conn: sqlite3.Connection, result: UploadResult, *, bucket: str, sha256: str,
                  content_type: str, path: str, folder: str) -> Upload:
    """Insert an uploads row, or return the one already there for this bucket and key."""
    conn.execute(
        "INSERT INTO uploads (bucket, key, url, sha256, size, crc64, etag, content_type, path,"
        " folder, uploaded_at, request_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
        "ON CONFLICT (bucket, key) DO NOTHING",
        (bucket, result.key, result.url, sha256, result.size,
         None if result.crc64 is None else str(result.crc64), result.etag, content_type,
         path, folder, now_text(), result.request_id))
    found = conn.execute("SELECT * FROM uploads WHERE bucket = ? AND key = ?",
                         (bucket, result.key)).fetchone()
    upload = as_record(Upload, found)
    assert upload is not None
    return upload


def _close_row(conn: sqlite3.Connection, row: FileRow, *, upload_id: int, sha256: str,
               size: int, mtime_ns: int, stamp: str) -> None:
    """Mark the row uploaded — unless an event noted a newer version of the file while it
    was being sent: then the upload is linked, and the row stays pending for the new bytes."""
    conn.execute(
        "UPDATE files SET upload_id = :upload, sha256 = :sha, pending_key = NULL, "
        "last_error = NULL, updated_at = :stamp, state = CASE WHEN size = :claimed_size "
        "AND mtime_ns = :claimed_mtime THEN 'uploaded' ELSE 'pending' END, "
        "size = CASE WHEN size = :claimed_size AND mtime_ns = :claimed_mtime THEN :size "
        "ELSE size END, "
        "mtime_ns = CASE WHEN size = :claimed_size AND mtime_ns = :claimed_mtime "
        "THEN :mtime ELSE mtime_ns END WHERE id = :id",
        {"upload": upload_id, "sha": sha256, "stamp": stamp, "claimed_size": row.size,
         "claimed_mtime": row.mtime_ns, "size": size, "mtime": mtime_ns, "id": row.id})
