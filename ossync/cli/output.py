"""Listing output, spelled the same on every command: a table for people, `--json` (array),
`--nl` (one object per line) and `--csv` for programs. Keys are snake_case, times RFC 3339
UTC, sizes in bytes; new keys may be added, none are renamed.

Rows carry paths in their ledger form, as `ossync.ledger.present.record` spells them
(valid UTF-8, one to one with the name on disk). Text from outside (file names, keys,
error messages) is made safe for where it goes: the table shows its printable form, so
a name cannot move the cursor or start a line; JSON and CSV carry valid UTF-8; a CSV
cell that a spreadsheet would run as a formula starts with a `'` (OWASP's advice on
CSV injection).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TextIO

from ossync.core.textforms import ledger_text, os_path, printable

PATH_KEYS = frozenset({"path", "uploaded_from"})  # in the ledger form
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    if fmt in ("json", "nl"):
        return _json(rows, fmt, out)
    if fmt == "csv":
        return _csv(rows, out, columns)
    table = [[cell(row.get(c), c) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in table]) for i, c in enumerate(columns)]
    for line in [list(columns), *table]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
                  + "\n")
    return len(table)


def _json(rows: Iterable[Mapping[str, Any]], fmt: str, out: TextIO) -> int:
    count = 0
    if fmt == "json":
        out.write("[")
    for count, row in enumerate(rows, 1):
        text = json.dumps(machine(row), ensure_ascii=False)
        if fmt == "json":
            out.write(("," if count > 1 else "") + "\n  " + text)
        else:
            out.write(text + "\n")
    if fmt == "json":
        out.write("\n]\n" if count else "]\n")
    return count


def _csv(rows: Iterable[Mapping[str, Any]], out: TextIO, columns: Sequence[str]) -> int:
    writer: csv.DictWriter[str] | None = None
    count = 0
    for row in rows:
        count += 1
        values = machine(row)
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(values), lineterminator="\n")
            writer.writeheader()
        writer.writerow({k: csv_cell(v) for k, v in values.items()})
    if writer is None:
        out.write(",".join(columns) + "\n")
    return count


def machine(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as JSON and CSV carry it: any text that is not valid UTF-8 (a name in the
    OS form that missed its ledger form) escaped like the ledger form, never written
    as a lone surrogate."""
    return {k: _valid(v) for k, v in row.items()}


def _valid(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return ledger_text(value)
        return value
    if isinstance(value, Mapping):
        return machine(value)
    if isinstance(value, list | tuple):
        return [_valid(v) for v in value]
    return value


def csv_cell(value: Any) -> Any:
    """Empty for None; text a spreadsheet would evaluate gets a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def cell(value: Any, key: str = "") -> str:
    """A table cell: `-` for nothing, else the printable form (one line, no controls);
    a path (`key` in PATH_KEYS) is read from its ledger form first."""
    if value is None:
        return "-"
    if key in PATH_KEYS and isinstance(value, str):
        return printable(os_path(value))
    return printable(str(value))
