"""Whole tables, by id, for `ossync ledger copy`: streamed out of one ledger, inserted
into another as they are (ids kept), so a copy can stop anywhere and resume; and rows
read back from a bucket, for `ossync ledger rebuild` (`restore`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import fields
from typing import Any

from ossync.core.textforms import ledger_text
from ossync.ledger.records import FileRow, Upload
from ossync.ledger.sql.base import Executor, SqlBase, as_record


class SqlCopy(SqlBase):
    def iter_uploads(self, after_id: int = 0) -> Iterator[Upload]:
        for row in self.stream("SELECT * FROM uploads WHERE id > ? ORDER BY id", (after_id,)):
            found = as_record(Upload, row)
            assert found is not None
            yield found

    def iter_files(self, after_id: int = 0) -> Iterator[FileRow]:
        for row in self.stream("SELECT * FROM files WHERE id > ? ORDER BY id", (after_id,)):
            found = as_record(FileRow, row)
            assert found is not None
            yield found

    def max_ids(self) -> tuple[int, int]:
        row = self.query("SELECT (SELECT COALESCE(MAX(id), 0) FROM uploads) AS u, "
                         "(SELECT COALESCE(MAX(id), 0) FROM files) AS f")[0]
        return int(row["u"]), int(row["f"])

    def copy_in(self, uploads: Iterable[Upload], files: Iterable[FileRow]) -> None:
        upload_rows = [_values(u) for u in uploads]
        file_rows = [_values(f) for f in files]
        with self.transaction() as conn:
            if upload_rows:
                conn.executemany(_insert_sql("uploads", _UPLOAD_COLUMNS), upload_rows)
            if file_rows:
                conn.executemany(_insert_sql("files", _FILE_COLUMNS), file_rows)
            self._after_copy(conn)

    def restore(self, uploads: Iterable[Upload], files: Iterable[FileRow]) -> None:
        """Rows a rebuild read back from the bucket, in one transaction: an upload whose
        bucket and key are recorded already stays as it is; a path recorded already keeps
        the newer version (by mtime) of the two."""
        upload_rows = [_values(u) for u in uploads]
        file_rows = [_values(f) for f in files]
        with self.transaction() as conn:
            if upload_rows:
                conn.executemany(_insert_sql("uploads", _UPLOAD_COLUMNS, ""), upload_rows)
            if file_rows:
                conn.executemany(_RESTORE_FILES, file_rows)
            self._after_copy(conn)

    def refresh_statistics(self) -> None:
        with self.transaction() as conn:
            conn.execute("ANALYZE")

    def _after_copy(self, conn: Executor) -> None:
        """Backends whose ids come from a sequence move it past the copied ids."""


_UPLOAD_COLUMNS = tuple(f.name for f in fields(Upload))
_FILE_COLUMNS = tuple(f.name for f in fields(FileRow))


def _insert_sql(table: str, columns: tuple[str, ...], target: str = "(id)") -> str:
    names = ", ".join(columns)
    marks = ", ".join(f":{c}" for c in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT {target} DO NOTHING"


_RESTORE_FILES = (
    _insert_sql("files", _FILE_COLUMNS).removesuffix("ON CONFLICT (id) DO NOTHING")
    + "ON CONFLICT (host, path) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _FILE_COLUMNS if c not in ("id", "host", "path"))
    + " WHERE excluded.mtime_ns > files.mtime_ns")


def _values(record: Upload | FileRow) -> dict[str, Any]:
    values = {f.name: getattr(record, f.name) for f in fields(record)}
    values["path"] = ledger_text(values["path"])
    return values

