"""The durable work queue, kept in the ledger's `files` table.

A row is written the moment a candidate is seen; `next_attempt` says when a
worker may look at it again (after the settle period, or after a back-off).
Workers sleep on a condition until the earliest due time or until new work is
noted: no polling while idle.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ossync.ledger.sqlite.ledger import FileRow, Ledger, Upload, _row, now_text
from ossync.targets import UploadResult

MAX_IDLE_WAIT = 300.0  # re-check at least this often, whatever the queue says


@dataclass(frozen=True)
class Sighting:
    """A file as stat() saw it, from an event or a scan."""

    path: str
    folder: str
    size: int
    mtime_ns: int
    settle: float


class WorkQueue:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._wake = threading.Condition()

    # --- intake --------------------------------------------------------------

    def note(self, sightings: Iterable[Sighting]) -> int:
        """Record candidates in one transaction; returns how many are (re)queued.

        A new path, or a known path whose size or mtime changed, becomes pending
        and due once it has been quiet for its settle period. Unchanged paths
        keep their state, so a finished upload is never redone by a rescan.
        """
        queued = 0
        now, stamp = time.time(), now_text()
        with self.ledger.transaction() as conn:
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
        if queued:
            self.notify()
        return queued

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        """True when the ledger already has this exact path, size and mtime (scan fast path)."""
        rows = self.ledger.query("SELECT size, mtime_ns FROM files WHERE path = ?", (path,))
        return bool(rows) and (rows[0]["size"], rows[0]["mtime_ns"]) == (size, mtime_ns)

    def notify(self) -> None:
        with self._wake:
            self._wake.notify_all()

    # --- workers -------------------------------------------------------------

    def reset_interrupted(self) -> int:
        """Rows left `uploading` by a crash go back to the queue, due now."""
        with self.ledger.transaction() as conn:
            cur = conn.execute("UPDATE files SET state = 'pending', next_attempt = 0 "
                               "WHERE state = 'uploading'")
            return cur.rowcount

    def claim(self) -> FileRow | None:
        """Take the earliest due pending row, marking it `uploading`."""
        with self.ledger.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM files WHERE state = 'pending' AND next_attempt <= ? "
                "ORDER BY next_attempt LIMIT 1", (time.time(),)).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE files SET state = 'uploading', updated_at = ? WHERE id = ?",
                         (now_text(), row["id"]))
        claimed = _row(FileRow, row)
        assert claimed is not None
        return claimed

    def wait_for_work(self, stop: threading.Event) -> None:
        """Sleep until the earliest pending row is due, new work is noted, or stop."""
        rows = self.ledger.query("SELECT MIN(next_attempt) AS due FROM files "
                                 "WHERE state = 'pending'")
        due = rows[0]["due"]
        timeout = MAX_IDLE_WAIT if due is None else min(max(due - time.time(), 0.0),
                                                        MAX_IDLE_WAIT)
        if timeout > 0 and not stop.is_set():
            with self._wake:
                self._wake.wait(timeout)

    def defer(self, row: FileRow, *, delay: float, size: int | None = None,
              mtime_ns: int | None = None, error: str | None = None,
              count_attempt: bool = False) -> None:
        """Back to pending, due after `delay` (not settled yet, or a retryable failure)."""
        with self.ledger.transaction() as conn:
            conn.execute(
                "UPDATE files SET state = 'pending', next_attempt = ?, size = ?, mtime_ns = ?, "
                "last_error = COALESCE(?, last_error), attempts = attempts + ?, updated_at = ? "
                "WHERE id = ? AND state = 'uploading'",
                (time.time() + delay, row.size if size is None else size,
                 row.mtime_ns if mtime_ns is None else mtime_ns, error, int(count_attempt),
                 now_text(), row.id))
        self.notify()

    def intend(self, row: FileRow, *, sha256: str, key: str) -> None:
        """Write down the key before sending, so a retry after a crash reuses it."""
        with self.ledger.transaction() as conn:
            conn.execute("UPDATE files SET sha256 = ?, pending_key = ?, updated_at = ? "
                         "WHERE id = ?", (sha256, key, now_text(), row.id))

    def finish(self, row: FileRow, *, size: int, mtime_ns: int, sha256: str,
               upload: Upload) -> None:
        with self.ledger.transaction() as conn:
            _close_row(conn, row, upload_id=upload.id, sha256=sha256, size=size,
                       mtime_ns=mtime_ns, stamp=now_text())

    def record_upload(self, row: FileRow, result: UploadResult, *, bucket: str, sha256: str,
                      content_type: str, mtime_ns: int) -> Upload:
        """Insert the upload (or find ours from an earlier run) and close the row, atomically."""
        with self.ledger.transaction() as conn:
            upload = _store_upload(conn, result, bucket=bucket, sha256=sha256,
                                   content_type=content_type, path=row.path, folder=row.folder)
            _close_row(conn, row, upload_id=upload.id, sha256=sha256, size=result.size,
                       mtime_ns=mtime_ns, stamp=upload.uploaded_at)
        return upload

    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload:
        """Record a path uploaded outside the queue (`ossync put`), or pointed at an
        existing object with the same bytes."""
        stamp = now_text()
        with self.ledger.transaction() as conn:
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
        """`failed` (needs a person: `ossync retry`) or `skipped` (not for upload)."""
        with self.ledger.transaction() as conn:
            conn.execute("UPDATE files SET state = ?, last_error = ?, attempts = attempts + ?, "
                         "updated_at = ? WHERE id = ?",
                         (state, error, attempts or 0, now_text(), row.id))

    def forget(self, row: FileRow) -> None:
        """The file vanished before it was uploaded: nothing to keep."""
        with self.ledger.transaction() as conn:
            conn.execute("DELETE FROM files WHERE id = ? AND upload_id IS NULL", (row.id,))
            conn.execute("UPDATE files SET state = 'uploaded' WHERE id = ? AND "
                         "upload_id IS NOT NULL AND state = 'uploading'", (row.id,))


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
    upload = _row(Upload, found)
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
