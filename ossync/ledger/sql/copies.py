"""Copies to the replicas, in SQL: one `copies` row per file and replica, shared by the
worker that read the file (`share_copies`), taken and settled by the replica's own
workers, filled in for a replica added later (`backfill`) and forgotten for one removed.

The primary's copy stays the `files` row and its `uploads` row: a ledger without replicas
runs exactly the statements it ran before. A copy holds the content it is a copy of
(SAME_CONTENT): a newer version shared while a copy was in flight leaves it pending for
the new bytes, never recorded as holding them.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from ossync.core.textforms import printable
from ossync.ledger.events import NewEvent, copy_failed, copy_stored
from ossync.ledger.outcomes import Copied, CopyAliased, CopyOutcome, Deferred, Settled
from ossync.ledger.records import CopyFacts, CopyRow, FileRow, now_text
from ossync.ledger.sql.base import Executor, SqlBase, as_record

MINE = "claimed_by = :me"
# The copy still holds the content that was claimed (no newer one shared meanwhile).
SAME_CONTENT = "sha256 = :claimed_sha AND sent_sha256 = :claimed_sent"
_KEPT = "copies.sha256 = excluded.sha256 AND copies.sent_sha256 = excluded.sent_sha256"
# What a copy of other content forgets: the object it held, its attempts, its claim on a key.
_FORGOTTEN = ("bucket", "key", "url", "etag", "request_id", "uploaded_at", "pending_key",
              "tagging_owed", "last_error")
_SHARE = f"""
INSERT INTO copies (file_id, destination, host, grp, state, size, mtime_ns, sha256, crc64,
    content_type, sent_sha256, sent_size, sent_crc64, strip_level, stripped, next_attempt,
    updated_at)
SELECT id, :dest, host, grp, 'pending', :size, :mtime, :sha, :crc, :type, :sent_sha,
       :sent_size, :sent_crc, :level, :stripped, :due, :stamp
FROM files WHERE id = :file AND size = :size AND mtime_ns = :mtime AND {MINE}
ON CONFLICT (file_id, destination) DO UPDATE SET
    size = excluded.size, mtime_ns = excluded.mtime_ns, updated_at = excluded.updated_at,
    state = CASE WHEN {_KEPT} AND copies.state <> 'skipped' THEN copies.state
                 WHEN copies.state = 'uploading' THEN 'uploading' ELSE 'pending' END,
    attempts = CASE WHEN {_KEPT} THEN copies.attempts ELSE 0 END,
    next_attempt = CASE WHEN {_KEPT} AND copies.state <> 'skipped' THEN copies.next_attempt
                        ELSE excluded.next_attempt END,
    duplicate = CASE WHEN {_KEPT} THEN copies.duplicate ELSE 0 END,
    {", ".join(f"{c} = CASE WHEN {_KEPT} THEN copies.{c} ELSE NULL END" for c in _FORGOTTEN)},
    sha256 = excluded.sha256, crc64 = excluded.crc64, content_type = excluded.content_type,
    sent_sha256 = excluded.sent_sha256, sent_size = excluded.sent_size,
    sent_crc64 = excluded.sent_crc64, strip_level = excluded.strip_level,
    stripped = excluded.stripped
"""
_CLAIM = ("UPDATE copies SET state = 'uploading', claimed_by = :me, lease_until = :lease, "
          "updated_at = :stamp WHERE id = (SELECT id FROM copies WHERE destination = :dest "
          "AND host = :me AND state = 'pending' AND next_attempt <= :now "
          "ORDER BY next_attempt LIMIT 1) RETURNING *")
_BACKFILL = """
INSERT INTO copies (file_id, destination, host, grp, state, size, mtime_ns, sha256, crc64,
    content_type, sent_sha256, sent_size, sent_crc64, strip_level, stripped, next_attempt,
    updated_at)
SELECT f.id, ?, f.host, f.grp, 'pending', f.size, f.mtime_ns, u.sha256, u.crc64,
       COALESCE(u.content_type, 'application/octet-stream'), COALESCE(u.sent_sha256, u.sha256),
       COALESCE(u.sent_size, u.size), COALESCE(u.sent_crc64, u.crc64), u.strip_level,
       u.stripped, ?, ?
FROM files f JOIN uploads u ON u.id = f.upload_id
WHERE f.host = ? AND f.state = 'uploaded' AND f.id > ? AND f.folder IN ({folders})
  AND NOT EXISTS (SELECT 1 FROM copies c WHERE c.file_id = f.id AND c.destination = ?)
ORDER BY f.id LIMIT ?
ON CONFLICT (file_id, destination) DO NOTHING
RETURNING file_id
"""


class SqlCopies(SqlBase):
    def share_copies(self, row: FileRow, facts: CopyFacts, destinations: Collection[str]
                     ) -> int:
        """One transaction: a pending copy per destination of the version the worker read
        (while it still holds the row and the row still describes that version); a copy
        that already holds this content keeps its state. Returns how many rows it wrote."""
        if not destinations:
            return 0
        c = facts.content
        base = {"file": row.id, "size": facts.size, "mtime": facts.mtime_ns, "sha": c.sha256,
                "crc": str(c.crc64), "type": facts.content_type, "sent_sha": c.sent_sha256,
                "sent_size": c.sent_size, "sent_crc": str(c.sent_crc64),
                "level": c.strip_level, "stripped": c.stripped, "due": time.time(),
                "stamp": now_text(), "me": self.host}
        with self.transaction() as conn:
            written = sum(int(conn.execute(_SHARE, {**base, "dest": d}).rowcount)
                          for d in sorted(destinations))
        if written:
            self._copies_added()
        return written

    def copies_complete(self, file_id: int, sha256: str, destinations: Collection[str]
                        ) -> bool:
        """The primary holds this content (the row is uploaded with it) and so does every
        destination named, verified: what `after_upload: delete|move` waits for."""
        names = sorted(destinations)
        marks = ", ".join("?" * len(names)) or "NULL"
        row = self.query(
            "SELECT (SELECT COUNT(*) FROM files WHERE id = ? AND state = 'uploaded' AND "
            "sha256 = ?) AS done, (SELECT COUNT(*) FROM copies WHERE file_id = ? AND "
            f"destination IN ({marks}) AND state = 'uploaded' AND sha256 = ?) AS copied",
            (file_id, sha256, file_id, *names, sha256))[0]
        return int(row["done"]) == 1 and int(row["copied"]) == len(names)

    def _claim_copy(self, destination: str, now: float) -> CopyRow | None:
        """This host's earliest due copy for `destination` (SQLite: one daemon per file)."""
        with self.transaction() as conn:
            row = conn.execute(_CLAIM, {"me": self.host, "lease": self.clock() + self.lease,
                                        "stamp": now_text(), "now": now,
                                        "dest": destination}).fetchone()
            return None if row is None else self._with_file(conn, row)

    @staticmethod
    def _with_file(conn: Executor, row: Any) -> CopyRow:
        """A copies row with its file's path and folder."""
        found = conn.execute("SELECT path, folder FROM files WHERE id = ?",
                             (row["file_id"],)).fetchone()
        copy = as_record(CopyRow, {**dict(row), "path": found["path"],
                                   "folder": found["folder"]})
        assert copy is not None
        return copy

    def _next_copy_due(self, destination: str) -> float | None:
        due = self.query("SELECT MIN(next_attempt) AS due FROM copies WHERE destination = ? "
                         "AND host = ? AND state = 'pending'",
                         (destination, self.host))[0]["due"]
        return None if due is None else float(due)

    def copy_stored(self, destination: str, sha256: str, sent_sha256: str) -> CopyRow | None:
        """Another file's copy in `destination` that holds these very bytes (dedupe)."""
        rows = self.query("SELECT c.*, f.path, f.folder FROM copies c JOIN files f ON "
                          "f.id = c.file_id WHERE c.destination = ? AND c.sha256 = ? AND "
                          "c.sent_sha256 = ? AND c.state = 'uploaded' ORDER BY c.id LIMIT 1",
                          (destination, sha256, sent_sha256))
        return as_record(CopyRow, rows[0]) if rows else None

    def intend_copy(self, copy: CopyRow, *, key: str, tagging: str | None = None) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE copies SET pending_key = :key, tagging_owed = :tagging, "
                         f"updated_at = :stamp WHERE id = :id AND {MINE}",
                         {"key": key, "tagging": tagging, "stamp": now_text(), "id": copy.id,
                          "me": self.host})

    def settle_copy(self, copy: CopyRow, outcome: CopyOutcome) -> None:
        """One transaction per outcome, its event (copy.stored, copy.failed) the last
        statement; a copy this host no longer holds is left alone."""
        event: NewEvent | None = None
        with self.transaction() as conn:
            if isinstance(outcome, (Copied, CopyAliased)):
                event = self._copied(conn, copy, outcome)
            elif isinstance(outcome, Deferred):
                conn.execute(
                    "UPDATE copies SET state = 'pending', next_attempt = :due, "
                    "last_error = COALESCE(:error, last_error), attempts = attempts + :add, "
                    "updated_at = :stamp, claimed_by = NULL, lease_until = NULL "
                    f"WHERE id = :id AND state = 'uploading' AND {MINE}",
                    {"due": time.time() + outcome.delay, "error": _one_line(outcome.error),
                     "add": int(outcome.count_attempt), "stamp": now_text(), "id": copy.id,
                     "me": self.host})
            elif isinstance(outcome, Settled):
                event = self._copy_settled(conn, copy, outcome)
            else:  # Vanished: not wanted any more
                conn.execute(f"DELETE FROM copies WHERE id = :id AND {MINE}",
                             {"id": copy.id, "me": self.host})
            if event is not None:
                self._insert_event(conn, event)

    def _copied(self, conn: Executor, copy: CopyRow, outcome: Copied | CopyAliased
                ) -> NewEvent | None:
        """Record the object that holds the copy (and release the content claim)."""
        stamp = now_text()
        if isinstance(outcome, Copied):
            r = outcome.result
            held = {"bucket": outcome.bucket, "key": r.key, "url": r.url, "etag": r.etag,
                    "request_id": r.request_id, "uploaded_at": stamp, "duplicate": 0}
        else:
            e = outcome.existing
            held = {"bucket": e.bucket, "key": e.key, "url": e.url, "etag": e.etag,
                    "request_id": e.request_id, "uploaded_at": e.uploaded_at, "duplicate": 1}
        done = conn.execute(
            "UPDATE copies SET state = 'uploaded', bucket = :bucket, key = :key, url = :url, "
            "etag = :etag, request_id = :request_id, uploaded_at = :uploaded_at, "
            "duplicate = :duplicate, pending_key = NULL, tagging_owed = NULL, "
            "last_error = NULL, claimed_by = NULL, lease_until = NULL, updated_at = :stamp "
            f"WHERE id = :id AND {MINE} AND {SAME_CONTENT}",
            {**held, "stamp": stamp, **_claimed(copy), "me": self.host}).rowcount
        if not done:  # other content was shared meanwhile: it waits for those bytes
            self._put_back(conn, copy)
        claim = copy_claim(copy.destination)
        conn.execute("DELETE FROM content_claims WHERE bucket = ? AND sha256 = ? AND host = ?",
                     (claim, copy.sha256, self.host))
        self._released(claim, copy.sha256)
        if not done:
            return None
        return copy_stored(copy, host=copy.host or self.host, bucket=str(held["bucket"]),
                           key=str(held["key"]), url=str(held["url"]),
                           uploaded_at=str(held["uploaded_at"]),
                           duplicate=bool(held["duplicate"]))

    def _put_back(self, conn: Executor, copy: CopyRow) -> None:
        conn.execute("UPDATE copies SET state = 'pending', claimed_by = NULL, "
                     f"lease_until = NULL WHERE id = :id AND {MINE} AND state = 'uploading'",
                     {"id": copy.id, "me": self.host})

    def _copy_settled(self, conn: Executor, copy: CopyRow, outcome: Settled
                      ) -> NewEvent | None:
        ended = conn.execute(
            f"UPDATE copies SET state = CASE WHEN {SAME_CONTENT} THEN :state ELSE 'pending' "
            f"END, last_error = CASE WHEN {SAME_CONTENT} THEN :error ELSE last_error END, "
            "attempts = attempts + :add, updated_at = :stamp, claimed_by = NULL, "
            f"lease_until = NULL WHERE id = :id AND {MINE} RETURNING state, attempts",
            {"state": outcome.state, "error": _one_line(outcome.error),
             "add": outcome.attempts, "stamp": now_text(), **_claimed(copy),
             "me": self.host}).fetchone()
        if ended is None or ended["state"] != "failed":
            return None
        return copy_failed(copy, host=copy.host or self.host, error=outcome.error,
                           attempts=int(ended["attempts"]))

    # --- a replica added, one removed --------------------------------------------------

    def backfill(self, destination: str, folders: Collection[str], *, after: int = 0,
                 limit: int = 100) -> tuple[int, int]:
        """Up to `limit` pending copies for files of `folders` this host uploaded (after
        file id `after`) that have no copy in `destination` yet, from what their uploads
        recorded. Returns (copies added, the last file id they cover: where the next
        batch starts)."""
        names = sorted(folders)
        if not names:
            return 0, after
        sql = _BACKFILL.format(folders=", ".join("?" * len(names)))
        with self.transaction() as conn:
            rows = conn.execute(sql, (destination, time.time(), now_text(), self.host, after,
                                      *names, destination, limit)).fetchall()
        ids = [int(r["file_id"]) for r in rows]
        if ids:
            self._copies_added()
        return len(ids), max(ids, default=after)

    def copy_backlog(self, destination: str) -> int:
        """This host's copies to `destination` waiting or in flight."""
        return int(self.query("SELECT COUNT(*) AS n FROM copies WHERE destination = ? AND "
                              "host = ? AND state IN ('pending', 'uploading')",
                              (destination, self.host))[0]["n"])

    def forget_copies(self, keep: Collection[str]) -> dict[str, int]:
        """This host's copies to destinations no longer configured, dropped (nothing in any
        store is touched); how many, by destination."""
        names = sorted(keep)
        # (NOT IN (NULL) is never true: with nothing to keep, every copy goes)
        where = f"host = ? AND destination NOT IN ({', '.join('?' * len(names))})" if names \
            else "host = ?"
        params = (self.host, *names)
        with self.transaction() as conn:
            counts = {str(r["destination"]): int(r["n"]) for r in conn.execute(
                f"SELECT destination, COUNT(*) AS n FROM copies WHERE {where} "
                "GROUP BY destination", params).fetchall()}
            if counts:
                conn.execute(f"DELETE FROM copies WHERE {where}", params)
        return counts

    if TYPE_CHECKING:  # ossync.ledger.waking and ossync.ledger.sql.outbox
        def _copies_added(self) -> None: ...

        def _released(self, bucket: str, sha256: str) -> None: ...

        def _insert_event(self, conn: Executor, event: NewEvent) -> int: ...


def copy_claim(destination: str) -> str:
    """What a replica's content claims are held under (a bucket name never has a colon,
    a local folder's path starts with /): one sender per content and replica."""
    return f"replica:{destination}"


def _claimed(copy: CopyRow) -> dict[str, Any]:
    return {"id": copy.id, "claimed_sha": copy.sha256, "claimed_sent": copy.sent_sha256}


def _one_line(error: str | None) -> str | None:
    return None if error is None else printable(error)
