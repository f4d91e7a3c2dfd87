"""`ossync show` for people: the object, what was stripped from it, and every path that
became it. Every value is shown in its printable form: a file name or an error
message cannot start a line of its own or move the terminal's cursor."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from ossync.cli.output import cell

OBJECT_FIELDS = ("key", "url", "bucket", "sha256", "size", "content_type", "etag", "crc64",
                 "uploaded_at", "uploaded_from")


def show_table(rows: Sequence[dict[str, Any]], progress: Sequence[str], out: TextIO) -> None:
    """`rows` as `record` spells them; `progress[i]` a line about row i's parts, or ''."""
    first = rows[0]
    for name in OBJECT_FIELDS:
        out.write(f"{name + ':':<15}{cell(first[name], name)}\n")
    out.write(_stripped_line(first))
    out.write(f"paths ({len(rows)}):\n")
    for row, parts in zip(rows, progress, strict=True):
        error = f"  last error: {cell(row['last_error'])}" if row["last_error"] else ""
        out.write(f"  {cell(row['path'], 'path')}  [{row['state']}, {row['attempts']} "
                  f"attempt(s), updated {row['updated_at']}]{error}\n")
        out.write(parts)


def _stripped_line(row: Mapping[str, Any]) -> str:
    """What strip_metadata removed, and what was sent when that differs from the file."""
    level = row.get("strip_level")
    if not level or level == "none":
        return f"{'stripped:':<15}- (strip_metadata: none)\n"
    if not row.get("stripped"):
        return f"{'stripped:':<15}nothing found to remove (strip_metadata: {cell(level)})\n"
    return (f"{'stripped:':<15}{cell(row['stripped'])} (strip_metadata: {cell(level)})\n"
            f"{'sent:':<15}{row['sent_size']} bytes, sha256 {row['sent_sha256']}, "
            f"crc64 {row['sent_crc64']}\n")
