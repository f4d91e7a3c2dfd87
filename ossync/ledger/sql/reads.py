"""The read side: look-ups by path, key and hash, lists, and the status summary.

Every look-up uses an index (`files(host, path)`, `uploads(bucket, key)`,
`uploads.sha256`, `files.updated_at`), so answers stay fast at millions of rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from ossync.core.textforms import ledger_text
from ossync.ledger.records import FileRow, Item, Status, Upload, stamp
from ossync.ledger.sql.base import SqlBase, as_record

_ITEM_SQL = """
SELECT f.path, f.folder, f.state, f.size, f.mtime_ns, f.sha256, f.attempts, f.last_error,
       f.seen_at, f.updated_at, u.bucket, u.key, u.url, u.etag, u.crc64, u.content_type,
       u.uploaded_at, u.path AS uploaded_from, f.host, u.sent_sha256, u.sent_size,
       u.sent_crc64, u.strip_level, u.stripped
FROM files f LEFT JOIN uploads u ON u.id = f.upload_id AND f.state = 'uploaded'
"""


class SqlReads(SqlBase):
    def file_by_path(self, path: str) -> FileRow | None:
        return self.one(FileRow, "SELECT * FROM files WHERE host = ? AND path = ?",
                        (self.host, ledger_text(path)))

    def upload_by_id(self, upload_id: int) -> Upload | None:
        return self.one(Upload, "SELECT * FROM uploads WHERE id = ?", (upload_id,))

    def upload_by_key(self, bucket: str, key: str) -> Upload | None:
        return self.one(Upload, "SELECT * FROM uploads WHERE bucket = ? AND key = ?",
                        (bucket, key))

    def upload_for_path(self, path: str) -> Upload | None:
        return self.one(Upload, "SELECT u.* FROM files f JOIN uploads u ON u.id = f.upload_id "
                        "WHERE f.host = ? AND f.path = ? AND f.state = 'uploaded'",
                        (self.host, ledger_text(path)))

    def counts(self) -> dict[str, int]:
        rows = self.query("SELECT state, COUNT(*) AS n FROM files GROUP BY state")
        return {r["state"]: r["n"] for r in rows}

    def item(self, path: str, host: str | None = None) -> Item | None:
        rows = self.query(_ITEM_SQL + "WHERE f.host = ? AND f.path = ?",
                          (host or self.host, ledger_text(path)))
        return as_record(Item, rows[0]) if rows else None

    def items_of(self, *, sha256: str | None = None, key: str | None = None) -> list[Item]:
        where, param = ("u.key = ?", key) if key is not None else ("u.sha256 = ?", sha256)
        sql = _ITEM_SQL + f"WHERE f.upload_id IN (SELECT id FROM uploads u WHERE {where})"
        return [_item(r) for r in self.query(sql + " ORDER BY f.updated_at", (param,))]

    def iter_items(self, *, since: datetime | None = None, until: datetime | None = None,
                   folder: str | None = None, state: str | None = "uploaded",
                   limit: int | None = None) -> Iterator[Item]:
        clauses, params = [], []
        if since is not None:
            clauses.append("f.updated_at >= ?")
            params.append(stamp(since))
        if until is not None:
            clauses.append("f.updated_at < ?")
            params.append(stamp(until))
        if folder is not None:
            clauses.append("f.folder = ?")
            params.append(folder)
        if state is not None:
            clauses.append("f.state = ?")
            params.append(state)
        sql = _ITEM_SQL + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += " ORDER BY f.updated_at DESC, f.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.stream(sql, tuple(params)):
            yield _item(row)

    def folder_under(self, directory: str) -> str | None:
        prefix = ledger_text(directory.rstrip("/") + "/")
        rows = self.query("SELECT folder FROM files WHERE host = ? AND path >= ? AND path < ? "
                          "LIMIT 1", (self.host, prefix, prefix[:-1] + "0"))  # "0" follows "/"
        return str(rows[0]["folder"]) if rows else None

    def status_since(self, today_start: datetime) -> Status:
        counts = self.counts()
        uploads = self.query("SELECT COUNT(*) AS n, MAX(uploaded_at) AS last FROM uploads")[0]
        today = self.query("SELECT COUNT(*) AS n FROM uploads WHERE uploaded_at >= ?",
                           (stamp(today_start),))[0]["n"]
        oldest = self.query("SELECT MIN(seen_at) AS t FROM files WHERE state IN "
                            "('pending', 'uploading')")[0]["t"]
        errors = self.query("SELECT last_error, COUNT(*) AS n FROM files WHERE state = 'failed' "
                            "GROUP BY last_error ORDER BY n DESC LIMIT 5")
        return Status(
            queued=counts.get("pending", 0), in_progress=counts.get("uploading", 0),
            failed=counts.get("failed", 0), skipped=counts.get("skipped", 0),
            uploaded_files=counts.get("uploaded", 0), uploaded_today=today,
            uploads_total=uploads["n"], oldest_pending_since=oldest,
            last_upload_at=uploads["last"],
            top_errors=[(r["last_error"] or "(no message)", r["n"]) for r in errors],
        )


def _item(row: object) -> Item:
    found = as_record(Item, row)
    assert found is not None
    return found
