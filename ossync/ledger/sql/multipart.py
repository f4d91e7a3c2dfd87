"""Checkpoints of multipart uploads in progress: one `multipart_uploads` row per path and
destination being sent in parts (the primary's destination is ""; a replica's, its name),
one `multipart_parts` row per part the store confirmed.

Written as the parts land, so an upload cut short (kill -9, reboot, a dropped link)
resumes with the parts the store still holds; removed when the upload completes or
is aborted. Not copied by `ossync ledger copy`: they describe work in flight.
"""

from __future__ import annotations

from ossync.core.objects import Part
from ossync.core.textforms import ledger_text
from ossync.ledger.records import MultipartRow, now_text
from ossync.ledger.sql.base import SqlBase, as_record


class SqlMultipart(SqlBase):
    def multipart_of(self, host: str, path: str, destination: str = ""
                     ) -> tuple[MultipartRow, list[Part]] | None:
        row = self.one(MultipartRow, "SELECT * FROM multipart_uploads WHERE host = ? AND "
                       "path = ? AND destination = ?", (host, ledger_text(path), destination))
        if row is None:
            return None
        parts = [Part(int(p["number"]), int(p["size"]), str(p["etag"]),
                      None if p["crc64"] is None else int(p["crc64"]))
                 for p in self.query("SELECT number, size, etag, crc64 FROM multipart_parts "
                                     "WHERE upload = ? ORDER BY number", (row.id,))]
        return row, parts

    def multipart_begin(self, *, host: str, path: str, bucket: str, key: str, sha256: str,
                        size: int, part_size: int, destination: str = "") -> int:
        with self.transaction() as conn:
            old = conn.execute("SELECT id FROM multipart_uploads WHERE host = ? AND path = ? "
                               "AND destination = ?",
                               (host, ledger_text(path), destination)).fetchone()
            if old is not None:
                conn.execute("DELETE FROM multipart_parts WHERE upload = ?", (old["id"],))
                conn.execute("DELETE FROM multipart_uploads WHERE id = ?", (old["id"],))
            row = conn.execute(
                "INSERT INTO multipart_uploads (host, path, bucket, key, sha256, size, "
                "part_size, started_at, destination) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "RETURNING id", (host, ledger_text(path), bucket, key, sha256, size,
                                 part_size, now_text(), destination)).fetchone()
            return int(row["id"])

    def multipart_started(self, record_id: int, upload_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE multipart_uploads SET upload_id = ? WHERE id = ?",
                         (upload_id, record_id))

    def multipart_part_done(self, record_id: int, part: Part) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO multipart_parts (upload, number, size, etag, crc64) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (upload, number) DO UPDATE SET "
                "size = excluded.size, etag = excluded.etag, crc64 = excluded.crc64",
                (record_id, part.number, part.size, part.etag,
                 None if part.crc64 is None else str(part.crc64)))

    def multipart_end(self, record_id: int) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM multipart_parts WHERE upload = ?", (record_id,))
            conn.execute("DELETE FROM multipart_uploads WHERE id = ?", (record_id,))

    def multipart_rows(self, host: str) -> list[MultipartRow]:
        rows = self.query("SELECT * FROM multipart_uploads WHERE host = ? ORDER BY id",
                          (host,))
        return [r for r in (as_record(MultipartRow, row) for row in rows) if r is not None]
