"""The read side of the replicas: each file's copies (for `show` and `/v1/files`), one
replica's copies as items (`ls --replica`), its summary (`status --replica`), and the
count of every destination's copies by state (metrics, the status page).

The primary is not a copy: its files and uploads are read as they always were
(`ossync.ledger.sql.reads`); a copy's item has the copy's state, object and URL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ossync.core.textforms import ledger_text
from ossync.ledger.records import Copy, Item, Status, stamp
from ossync.ledger.sql.base import SqlBase, as_record

_COPY_ITEM = """
SELECT f.path, f.folder, c.state, f.size, f.mtime_ns, c.sha256, c.attempts, c.last_error,
       f.seen_at, c.updated_at, {held}, c.content_type, c.uploaded_at, f.path AS uploaded_from,
       f.host, c.sent_sha256, c.sent_size, c.sent_crc64, c.strip_level, c.stripped
FROM copies c JOIN files f ON f.id = c.file_id
""".format(held=", ".join(f"CASE WHEN c.state = 'uploaded' THEN c.{name} END AS {name}"
                          for name in ("bucket", "key", "url", "etag", "crc64")))
BATCH = 200  # (host, path) pairs looked up in one statement


def _copy(row: Any) -> Copy:
    return Copy(destination=str(row["destination"]), state=str(row["state"]),
                bucket=row["bucket"], key=row["key"], url=row["url"], etag=row["etag"],
                sent_crc64=row["sent_crc64"], uploaded_at=row["uploaded_at"],
                attempts=int(row["attempts"]), last_error=row["last_error"],
                updated_at=str(row["updated_at"]), duplicate=bool(row["duplicate"]))


class SqlCopyReads(SqlBase):
    def copies_of(self, path: str, host: str | None = None) -> list[Copy]:
        """The copies of one path (of `host`, default this host), by destination."""
        return self.copies_for([(host or self.host, path)]).get((host or self.host, path), [])

    def copies_for(self, paths: Iterable[tuple[str, str]]) -> dict[tuple[str, str], list[Copy]]:
        """The copies of many (host, path) pairs at once (a page of `/v1/files`)."""
        wanted = list(dict.fromkeys(paths))
        found: dict[tuple[str, str], list[Copy]] = {}
        for start in range(0, len(wanted), BATCH):
            chunk = wanted[start:start + BATCH]
            values = ", ".join("(?, ?)" for _ in chunk)
            params = [v for host, path in chunk for v in (host, ledger_text(path))]
            rows = self.query("SELECT f.host AS file_host, f.path AS file_path, c.* FROM copies "
                              "c JOIN files f ON f.id = c.file_id WHERE (f.host, f.path) IN "
                              f"(VALUES {values}) ORDER BY c.destination", tuple(params))
            by_text = {(host, ledger_text(path)): (host, path) for host, path in chunk}
            for row in rows:
                key = by_text[(str(row["file_host"]), str(row["file_path"]))]
                found.setdefault(key, []).append(_copy(row))
        return found

    def iter_copy_items(self, destination: str, *, since: datetime | None = None,
                        until: datetime | None = None, folder: str | None = None,
                        state: str | None = "uploaded", limit: int | None = None
                        ) -> Iterator[Item]:
        """One replica's copies as items (state, object and URL the copy's), newest first."""
        clauses, params = ["c.destination = ?"], [destination]
        for clause, value in (("c.updated_at >= ?", None if since is None else stamp(since)),
                              ("c.updated_at < ?", None if until is None else stamp(until)),
                              ("f.folder = ?", folder), ("c.state = ?", state)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        sql = _COPY_ITEM + " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY c.updated_at DESC, c.id DESC"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        for row in self.stream(sql, tuple(params)):
            item = as_record(Item, row)
            assert item is not None
            yield item

    def copy_status(self, destination: str, today_start: datetime | None = None) -> Status:
        """`ossync status --replica NAME`: the summary of one replica's copies."""
        today = today_start or datetime.now().astimezone().replace(
            hour=0, minute=0, second=0, microsecond=0)
        counts = self.copy_counts().get(destination, {})
        row = self.query(
            "SELECT (SELECT COUNT(*) FROM copies WHERE destination = :d AND state = "
            "'uploaded' AND duplicate = 0) AS total, (SELECT MAX(uploaded_at) FROM copies "
            "WHERE destination = :d AND duplicate = 0) AS last, (SELECT COUNT(*) FROM copies "
            "WHERE destination = :d AND duplicate = 0 AND state = 'uploaded' AND "
            "uploaded_at >= :today) AS today, (SELECT MIN(f.seen_at) FROM copies c JOIN "
            "files f ON f.id = c.file_id WHERE c.destination = :d AND c.state IN "
            "('pending', 'uploading')) AS oldest",
            {"d": destination, "today": stamp(today)})[0]
        errors = self.query("SELECT last_error, COUNT(*) AS n FROM copies WHERE destination = "
                            "? AND state = 'failed' GROUP BY last_error ORDER BY n DESC "
                            "LIMIT 5", (destination,))
        return Status(
            queued=counts.get("pending", 0), in_progress=counts.get("uploading", 0),
            failed=counts.get("failed", 0), skipped=counts.get("skipped", 0),
            uploaded_files=counts.get("uploaded", 0), uploaded_today=int(row["today"]),
            uploads_total=int(row["total"]), oldest_pending_since=row["oldest"],
            last_upload_at=row["last"],
            top_errors=[(r["last_error"] or "(no message)", r["n"]) for r in errors])

    def copy_counts(self) -> dict[str, dict[str, int]]:
        """Every destination's copies by state (all hosts of a shared ledger)."""
        counts: dict[str, dict[str, int]] = {}
        for row in self.query("SELECT destination, state, COUNT(*) AS n FROM copies "
                              "GROUP BY destination, state"):
            counts.setdefault(str(row["destination"]), {})[str(row["state"])] = int(row["n"])
        return counts
