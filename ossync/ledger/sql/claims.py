"""The queue's claims: rows noted, taken, renewed and put back, and the content claims
that keep two senders off the same bytes.

Every write after a claim is guarded by `claimed_by = this host` (MINE): a host whose
lease ran out (it was cut off, another host took the row) can no longer move the row,
so a host coming back never undoes what another finished. Times of due rows are this
host's clock (`time.time()`); leases are the backend's (`clock()`, PostgreSQL's server
clock, shared by every host).
"""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable
from typing import Any

from ossync.core.textforms import ledger_text
from ossync.ledger.records import FileRow, Sighting, now_text
from ossync.ledger.sql.base import SqlBase, as_record

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



class SqlClaims(SqlBase):
    groups: tuple[str, ...] = ()  # folder groups whose rows this host may take too

    def _note(self, sightings: Iterable[Sighting]) -> int:
        """One upsert per sighting: safe when two threads (or hosts) note the same path."""
        queued = 0
        stamp, now = now_text(), time.time()
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

    def reset_interrupted(self, keep: Collection[int] = (),
                          keep_copies: Collection[int] = ()) -> int:
        return self._reset(f"claimed_by = ?{not_in(keep)}", (self.host, *keep),
                           f"claimed_by = ?{not_in(keep_copies)}", (self.host, *keep_copies),
                           bool(keep or keep_copies))

    def _reset(self, where: str, params: tuple[object, ...], copies_where: str,
               copies_params: tuple[object, ...], claims_held: bool) -> int:
        """Put `uploading` rows and copies matching the clauses back, due now; with no
        claims held by a worker, this host's content claims go too (while some are held,
        the queue tells a stale one from a held one)."""
        with self.transaction() as conn:
            if not claims_held:
                conn.execute("DELETE FROM content_claims WHERE host = ?", (self.host,))
            cur = conn.execute("UPDATE files SET state = 'pending', next_attempt = 0, "
                               "claimed_by = NULL, lease_until = NULL "
                               f"WHERE state = 'uploading' AND {where}", params)
            copies = conn.execute("UPDATE copies SET state = 'pending', next_attempt = 0, "
                                  "claimed_by = NULL, lease_until = NULL WHERE state = "
                                  f"'uploading' AND {copies_where}", copies_params)
            return int(cur.rowcount) + int(copies.rowcount)

    def _claim(self, now: float) -> FileRow | None:
        """This host's earliest due row (SQLite: one daemon per file, so no groups)."""
        with self.transaction() as conn:
            row = conn.execute(
                "UPDATE files SET state = 'uploading', claimed_by = :me, lease_until = :lease, "
                "updated_at = :stamp WHERE id = (SELECT id FROM files WHERE state = 'pending' "
                "AND next_attempt <= :now AND host = :me ORDER BY next_attempt LIMIT 1) "
                "RETURNING *", {"me": self.host, "lease": self.clock() + self.lease,
                                "stamp": now_text(), "now": now}).fetchone()
        return as_record(FileRow, row)

    def _next_due(self) -> float | None:
        """When the earliest row this host may claim falls due (SQLite: its own rows)."""
        due = self.query("SELECT MIN(next_attempt) AS due FROM files WHERE host = ? AND "
                         "state = 'pending'", (self.host,))[0]["due"]
        return None if due is None else float(due)

    def renew_leases(self) -> int:
        with self.transaction() as conn:
            cur = conn.execute("UPDATE files SET lease_until = ? WHERE state = 'uploading' "
                               "AND claimed_by = ?", (self.clock() + self.lease, self.host))
            conn.execute("UPDATE copies SET lease_until = ? WHERE state = 'uploading' AND "
                         "claimed_by = ?", (self.clock() + self.lease, self.host))
            conn.execute("UPDATE content_claims SET lease_until = ? WHERE host = ?",
                         (self.clock() + self.lease, self.host))
            return int(cur.rowcount)

    def _claim_content(self, bucket: str, sha256: str, *, take_own: bool = False) -> bool:
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

    def _release_content(self, bucket: str, sha256: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM content_claims WHERE bucket = ? AND sha256 = ? AND "
                         "host = ?", (bucket, sha256, self.host))

    def retry_failed(self, paths: list[str] | None = None) -> int:
        """Failed files, and failed copies to replicas, queued again: how many of both."""
        sql = ("UPDATE files SET state = 'pending', attempts = 0, next_attempt = 0, "
               "updated_at = ? WHERE state = 'failed'")
        copies = ("UPDATE copies SET state = 'pending', attempts = 0, next_attempt = 0, "
                  "updated_at = ? WHERE state = 'failed'")
        with self.transaction() as conn:
            if paths is None:
                return sum(int(conn.execute(q, (now_text(),)).rowcount) for q in (sql, copies))
            return sum(int(conn.execute(sql + " AND host = ? AND path = ?",
                                        (now_text(), self.host, ledger_text(p))).rowcount)
                       + int(conn.execute(copies + " AND file_id IN (SELECT id FROM files "
                                          "WHERE host = ? AND path = ?)",
                                          (now_text(), self.host, ledger_text(p))).rowcount)
                       for p in paths)


def claimed(row: FileRow) -> dict[str, Any]:
    """The parameters of SAME, and the row's id."""
    return {"id": row.id, "claimed_size": row.size, "claimed_mtime": row.mtime_ns}


def not_in(ids: Collection[int]) -> str:
    return f" AND id NOT IN ({', '.join('?' * len(ids))})" if ids else ""
