"""The work queue's statements: the `files` table, its link to `uploads`, and claims.

Every write after a claim is guarded by `claimed_by = this host`: a host whose
lease ran out (it was cut off, another host took the row) can no longer move
the row, so a host coming back never undoes what another finished.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from dataclasses import fields
from typing import Any

from ossync.core.objects import UploadResult
from ossync.core.textforms import ledger_text, printable
from ossync.ledger.records import Content, FileRow, Sighting, Upload, now_text
from ossync.ledger.sql.base import Executor, SqlBase, as_record

MINE = "claimed_by = :me"
# The row still describes the version of the file that was claimed (no newer one noted).
SAME = "size = :claimed_size AND mtime_ns = :claimed_mtime"
# A new path is inserted pending; a known one whose size or mtime changed is queued
# again (a row being sent stays `uploading`: its worker sees the change); an
# unchanged one is left alone, so a finished upload is never redone by a rescan.
_NOTE = """
INSERT INTO files (host, path, folder, grp, size, mtime_ns, state, next_attempt, seen_at,
                   updated_at)
VALUES (:host, :path, :folder, :grp, :size, :mtime, 'pending', :due, :stamp, :stamp)
ON CONFLICT (host, path) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, folder = excluded.folder,
    grp = excluded.grp, attempts = 0, last_error = NULL,
    next_attempt = excluded.next_attempt, updated_at = excluded.updated_at,
    state = CASE files.state WHEN 'uploading' THEN 'uploading' ELSE 'pending' END
WHERE files.size <> excluded.size OR files.mtime_ns <> excluded.mtime_ns
"""


class SqlQueue(SqlBase):
    def clock(self) -> float:
        """The time leases are measured in (PostgreSQL: the server's, shared by all hosts)."""
        return time.time()

    def note(self, sightings: Iterable[Sighting], now: float) -> int:
        """One upsert per sighting: safe when two threads (or hosts) note the same path."""
        queued = 0
        stamp = now_text()
        groups: set[str] = set()
        with self.transaction() as conn:
            for s in sightings:
                count = conn.execute(_NOTE, {
                    "host": self.host, "path": ledger_text(s.path), "folder": s.folder,
                    "grp": s.group, "size": s.size, "mtime": s.mtime_ns,
                    "due": now + s.settle, "stamp": stamp}).rowcount
                queued += count
                if count and s.group:
                    groups.add(s.group)
            self._work_added(conn, groups)
        return queued

    def known_unchanged(self, path: str, size: int, mtime_ns: int) -> bool:
        rows = self.query("SELECT size, mtime_ns FROM files WHERE host = ? AND path = ?",
                          (self.host, ledger_text(path)))
        return bool(rows) and (rows[0]["size"], rows[0]["mtime_ns"]) == (size, mtime_ns)

    def reset_interrupted(self, keep: Collection[int] = ()) -> int:
        return self._reset(f"claimed_by = ?{not_in(keep)}", (self.host, *keep), bool(keep))

    def _reset(self, where: str, params: tuple[object, ...], claims_held: bool) -> int:
        """Put `uploading` rows matching `where` back, due now; with no claims held by a
        worker, this host's content claims go too (while some are held, the queue tells
        a stale one from a held one)."""
        with self.transaction() as conn:
            if not claims_held:
                conn.execute("DELETE FROM content_claims WHERE host = ?", (self.host,))
            cur = conn.execute("UPDATE files SET state = 'pending', next_attempt = 0, "
                               "claimed_by = NULL, lease_until = NULL "
                               f"WHERE state = 'uploading' AND {where}", params)
            return int(cur.rowcount)

    def claim(self, now: float, groups: tuple[str, ...] = ()) -> FileRow | None:
        """This host's earliest due row (SQLite: one daemon per file, so no groups)."""
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE files SET state = 'uploading', claimed_by = :me, lease_until = :lease, "
                "updated_at = :stamp WHERE id = (SELECT id FROM files WHERE state = 'pending' "
                "AND next_attempt <= :now AND host = :me ORDER BY next_attempt LIMIT 1) "
                "RETURNING *", {"me": self.host, "lease": self.clock() + self.lease,
                                "stamp": now_text(), "now": now}).fetchone()
        return as_record(FileRow, row)

    def next_due(self, groups: tuple[str, ...] = ()) -> float | None:
        """(SQLite: one daemon per file, so no groups.)"""
        due = self.query("SELECT MIN(next_attempt) AS due FROM files WHERE host = ? AND "
                         "state = 'pending'", (self.host,))[0]["due"]
        return None if due is None else float(due)

    def renew_leases(self) -> int:
        with self.transaction() as conn:
            cur = conn.execute("UPDATE files SET lease_until = ? WHERE state = 'uploading' "
                               "AND claimed_by = ?", (self.clock() + self.lease, self.host))
            conn.execute("UPDATE content_claims SET lease_until = ? WHERE host = ?",
                         (self.clock() + self.lease, self.host))
            return int(cur.rowcount)

    def claim_content(self, bucket: str, sha256: str, *, take_own: bool = False) -> bool:
        now = self.clock()
        with self.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO content_claims (bucket, sha256, host, lease_until) "
                "VALUES (:bucket, :sha, :me, :lease) ON CONFLICT (bucket, sha256) DO UPDATE "
                "SET host = excluded.host, lease_until = excluded.lease_until "
                "WHERE content_claims.lease_until < :now OR "
                "(content_claims.host = :me AND :take_own = 1)",
                {"bucket": bucket, "sha": sha256, "me": self.host, "lease": now + self.lease,
                 "now": now, "take_own": int(take_own)})
            return bool(cur.rowcount)

    def release_content(self, bucket: str, sha256: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM content_claims WHERE bucket = ? AND sha256 = ? AND "
                         "host = ?", (bucket, sha256, self.host))

    def defer(self, row: FileRow, *, due: float, size: int, mtime_ns: int,
              error: str | None, count_attempt: bool) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE files SET state = 'pending', next_attempt = :due, size = :size, "
                "mtime_ns = :mtime, last_error = COALESCE(:error, last_error), "
                "attempts = attempts + :add, updated_at = :stamp, claimed_by = NULL, "
                f"lease_until = NULL WHERE id = :id AND state = 'uploading' AND {MINE}",
                {"due": due, "size": size, "mtime": mtime_ns, "error": _one_line(error),
                 "add": int(count_attempt), "stamp": now_text(), "id": row.id, "me": self.host})
            self._work_added(conn, {row.grp} if row.grp else set())

    def intend(self, row: FileRow, *, sha256: str, key: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE files SET sha256 = :sha, pending_key = :key, updated_at = "
                         f":stamp WHERE id = :id AND {MINE}",
                         {"sha": sha256, "key": key, "stamp": now_text(), "id": row.id,
                          "me": self.host})

    def finish(self, row: FileRow, *, size: int, mtime_ns: int, sha256: str,
               upload: Upload) -> None:
        with self.transaction() as conn:
            self._close_row(conn, row, upload_id=upload.id, sha256=sha256, size=size,
                            mtime_ns=mtime_ns, stamp=now_text())

    def record_upload(self, row: FileRow, result: UploadResult, *, bucket: str, sha256: str,
                      content_type: str, mtime_ns: int, content: Content | None = None
                      ) -> Upload:
        with self.transaction() as conn:
            upload = self._store_upload(conn, result, bucket=bucket, sha256=sha256,
                                        content_type=content_type, path=row.path,
                                        folder=row.folder, content=content)
            size = result.size if content is None else content.size
            self._close_row(conn, row, upload_id=upload.id, sha256=sha256, size=size,
                            mtime_ns=mtime_ns, stamp=upload.uploaded_at)
        return upload

    def record_direct(self, path: str, folder: str, *, mtime_ns: int, sha256: str,
                      content_type: str, bucket: str, result: UploadResult | None = None,
                      existing: Upload | None = None) -> Upload:
        stamp = now_text()
        with self.transaction() as conn:
            if existing is None:
                assert result is not None
                existing = self._store_upload(conn, result, bucket=bucket, sha256=sha256,
                                              content_type=content_type, path=path,
                                              folder=folder)
            conn.execute(
                "INSERT INTO files (host, path, folder, size, mtime_ns, state, sha256, "
                "upload_id, seen_at, updated_at) VALUES (?, ?, ?, ?, ?, 'uploaded', ?, ?, ?, ?) "
                "ON CONFLICT (host, path) DO UPDATE SET folder = excluded.folder, "
                "size = excluded.size, mtime_ns = excluded.mtime_ns, state = 'uploaded', "
                "sha256 = excluded.sha256, upload_id = excluded.upload_id, attempts = 0, "
                "last_error = NULL, pending_key = NULL, updated_at = excluded.updated_at",
                (self.host, ledger_text(path), folder, existing.size, mtime_ns, sha256, existing.id,
                 stamp,
                 stamp))
        return existing

    def settle_terminal(self, row: FileRow, state: str, error: str | None,
                        attempts: int | None = None) -> None:
        """The verdict holds for the version that was claimed: a newer one noted while the
        row was in hand (an empty placeholder that got its bytes) is queued instead."""
        with self.transaction() as conn:
            conn.execute(f"UPDATE files SET state = CASE WHEN {SAME} THEN :state ELSE "
                         f"'pending' END, last_error = CASE WHEN {SAME} THEN :error ELSE "
                         "last_error END, attempts = attempts + :add, updated_at = :stamp, "
                         f"claimed_by = NULL, lease_until = NULL WHERE id = :id AND {MINE}",
                         {"state": state, "error": _one_line(error), "add": attempts or 0,
                          "stamp": now_text(), **_claimed(row), "me": self.host})
            self._work_added(conn, {row.grp} if row.grp else set())

    def forget(self, row: FileRow) -> None:
        """The file vanished: its row goes — unless a newer version was noted meanwhile
        (then it is queued) or an earlier upload stands (then it says so)."""
        with self.transaction() as conn:
            conn.execute(f"DELETE FROM files WHERE id = :id AND upload_id IS NULL AND {SAME} "
                         f"AND {MINE}", {**_claimed(row), "me": self.host})
            conn.execute(f"UPDATE files SET state = CASE WHEN {SAME} THEN 'uploaded' ELSE "
                         "'pending' END, claimed_by = NULL, lease_until = NULL WHERE id = :id "
                         f"AND state = 'uploading' AND {MINE}", {**_claimed(row), "me": self.host})

    def retry_failed(self, paths: list[str] | None = None) -> int:
        sql = ("UPDATE files SET state = 'pending', attempts = 0, next_attempt = 0, "
               "updated_at = ? WHERE state = 'failed'")
        with self.transaction() as conn:
            if paths is None:
                return int(conn.execute(sql, (now_text(),)).rowcount)
            return sum(int(conn.execute(sql + " AND host = ? AND path = ?",
                                        (now_text(), self.host, ledger_text(p))).rowcount)
                       for p in paths)

    def copy_in(self, uploads: Iterable[Upload], files: Iterable[FileRow]) -> None:
        upload_rows = [_values(u) for u in uploads]
        file_rows = [_values(f) for f in files]
        with self.transaction() as conn:
            if upload_rows:
                conn.executemany(_insert_sql("uploads", _UPLOAD_COLUMNS), upload_rows)
            if file_rows:
                conn.executemany(_insert_sql("files", _FILE_COLUMNS), file_rows)
            self._after_copy(conn)

    def refresh_statistics(self) -> None:
        with self.transaction() as conn:
            conn.execute("ANALYZE")

    def _work_added(self, conn: Executor, groups: set[str]) -> None:
        """Rows of these folder groups became pending: backends shared by several hosts
        tell the other hosts of each group (PostgreSQL: NOTIFY), at commit."""

    def _after_copy(self, conn: Executor) -> None:
        """Backends whose ids come from a sequence move it past the copied ids."""

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
                   size: int, mtime_ns: int, stamp: str) -> None:
        """Mark the row uploaded — unless an event noted a newer version of the file while
        it was being sent: then the upload is linked, and the row stays pending for the new
        bytes. A row this host no longer holds is left alone."""
        params: dict[str, Any] = {
            "upload": upload_id, "sha": sha256, "stamp": stamp, "size": size,
            "mtime": mtime_ns, **_claimed(row), "me": self.host}
        conn.execute(
            "UPDATE files SET upload_id = :upload, sha256 = :sha, pending_key = NULL, "
            "last_error = NULL, updated_at = :stamp, claimed_by = NULL, lease_until = NULL, "
            f"state = CASE WHEN {SAME} THEN 'uploaded' ELSE 'pending' END, "
            f"size = CASE WHEN {SAME} THEN :size ELSE size END, "
            f"mtime_ns = CASE WHEN {SAME} THEN :mtime ELSE mtime_ns END "
            f"WHERE id = :id AND {MINE}", params)


_UPLOAD_COLUMNS = tuple(f.name for f in fields(Upload))
_FILE_COLUMNS = tuple(f.name for f in fields(FileRow))


def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    marks = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING"


def _values(record: Upload | FileRow) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    values["path"] = ledger_text(values["path"])
    return values


def _claimed(row: FileRow) -> dict[str, Any]:
    """The parameters of SAME, and the row's id."""
    return {"id": row.id, "claimed_size": row.size, "claimed_mtime": row.mtime_ns}


def not_in(ids: Collection[int]) -> str:
    return f" AND id NOT IN ({', '.join('?' * len(ids))})" if ids else ""


def _one_line(error: str | None) -> str | None:
    """An error text as stored and shown: one line of valid UTF-8, whatever file name or
    server message it quotes."""
    return None if error is None else printable(error)
