"""Listing output, spelled the same on every command: a table for people, `--json` (array),
`--nl` (one object per line) and `--csv` for programs. Keys are snake_case, times RFC 3339
UTC, sizes in bytes; new keys may be added, none are renamed."""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO


def add_format_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="format", action="store_const", const="json",
                       help="a JSON array")
    group.add_argument("--nl", dest="format", action="store_const", const="nl",
                       help="one JSON object per line")
    group.add_argument("--csv", dest="format", action="store_const", const="csv",
                       help="CSV with a header row")
    parser.set_defaults(format="table")


def emit(rows: Iterable[Mapping[str, Any]], fmt: str, out: TextIO,
         columns: Sequence[str]) -> int:
    """Write rows in the chosen format; the table shows `columns`, the others every key.

    Returns the number of rows written. Rows are streamed except for the table, which
    must see every row to align its columns.
    """
    count = 0
    if fmt == "json":
        out.write("[")
        for count, row in enumerate(rows, 1):
            out.write(("," if count > 1 else "") + "\n  " + json.dumps(row, ensure_ascii=False))
        out.write("\n]\n" if count else "]\n")
    elif fmt == "nl":
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    elif fmt == "csv":
        writer: csv.DictWriter[str] | None = None
        for row in rows:
            count += 1
            if writer is None:
                writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
                writer.writeheader()
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        if writer is None:
            out.write(",".join(columns) + "\n")
    else:
        table = [[_cell(row.get(c)) for c in columns] for row in rows]
        count = len(table)
        widths = [max([len(c)] + [len(r[i]) for r in table]) for i, c in enumerate(columns)]
        for line in [list(columns), *table]:
            out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                      + "\n")
    return count


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return str(value).replace("\n", " ")
