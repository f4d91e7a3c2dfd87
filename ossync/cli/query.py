"""`ossync url|ls|show|status|retry|export`: the ledger for people and programs
(`ossync events` is `ossync.cli.events`).

Handlers read the ledger (read-only, except `retry`) and return an exit status;
`cli.main` turns exceptions into one line and a status. Paths are taken as the shell
gave them (see `cli.paths`); what the terminal shows goes through `printable`.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import re
from datetime import datetime, timezone
from typing import Any, TextIO

import ossync.cli.paths as paths
from ossync.cli.args import Parser, limit, path_text, text_arg
from ossync.cli.copies import (
    REPLICA_HELP,
    copies_of,
    copy_lines,
    known_replica,
    replica_items,
)
from ossync.cli.errors import NotFound, UsageError, shown
from ossync.cli.ledgers import open_ledger
from ossync.cli.output import add_format_options, cell, emit
from ossync.cli.show import show_table
from ossync.cli.urls import add_url_options, url_choice, url_row
from ossync.core.chunks import chunks
from ossync.core.textforms import ledger_text, printable
from ossync.core.units import parse_time
from ossync.ledger import STATES, Item, Ledger
from ossync.ledger.present import record, with_copies

__all__ = ["NotFound", "UsageError", "add_query_commands"]  # the errors' old home
LS_COLUMNS = ("updated_at", "state", "folder", "path", "url")
URL_COLUMNS = ("path", "url")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_TIME_HELP = "ISO 8601 time or an age like 2h, 7d"
_PATH_HELP = "a local path, as the shell gives it or as a log line printed it"


def add_query_commands(sub: argparse._SubParsersAction[Parser],
                       common: Any) -> None:
    url = sub.add_parser("url", help="print the URL of each uploaded local file")
    common(url)
    url.add_argument("paths", nargs="+", metavar="PATH", type=path_text, help=_PATH_HELP)
    add_format_options(url)
    add_url_options(url)

    ls = sub.add_parser("ls", help="list files and their URLs, newest first")
    common(ls)
    ls.add_argument("--since", help=_TIME_HELP)
    ls.add_argument("--until", help=_TIME_HELP)
    ls.add_argument("--folder", type=path_text, help="a watch folder's label or path")
    ls.add_argument("--state", default="uploaded", choices=[*STATES, "all"],
                    help="which files (default: uploaded)")
    ls.add_argument("--limit", type=limit, default=None, help="at most this many rows")
    ls.add_argument("--replica", metavar="NAME", type=text_arg, help=REPLICA_HELP)
    add_format_options(ls)
    add_url_options(ls)

    show = sub.add_parser("show", help="everything the ledger knows about a key, path or hash")
    common(show)
    show.add_argument("what", metavar="KEY|PATH|SHA256", type=path_text,
                      help="an object key, a local path or a content hash")
    add_format_options(show)
    add_url_options(show)

    status = sub.add_parser("status", help="queue and upload summary from the ledger")
    common(status)
    status.add_argument("--replica", metavar="NAME", type=text_arg,
                        help="a replica's name: the summary of its copies")
    add_format_options(status)

    retry = sub.add_parser("retry", help="queue failed files for another try")
    common(retry)
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every failed file")
    which.add_argument("paths", nargs="*", metavar="PATH", default=[], type=path_text,
                       help=f"a failed file: {_PATH_HELP}")

    export = sub.add_parser("export", help="dump every file record for other tools")
    common(export)
    export.add_argument("--since", help=_TIME_HELP)
    export.add_argument("--format", dest="format", required=True, choices=["csv", "json", "nl"],
                        help="csv, json (an array) or nl (one object per line)")


def _time(flag: str, value: str | None) -> datetime | None:
    """An aware moment the ledger can compare (years 1 to 9999 in UTC), or a usage error."""
    if value is None:
        return None
    try:
        return parse_time(value).astimezone(timezone.utc)
    except ValueError as exc:
        if "is not a time" in str(exc):
            raise UsageError(f"{flag}: {exc}") from None
        reason = str(exc)
    except OverflowError as exc:  # an age of a million years, a time zone past year 9999
        reason = str(exc)
    raise UsageError(f"{flag} {shown(value)}: out of range ({reason}); use a time between "
                     "the years 1 and 9999, or an age like 7d")


def _sha256_of(path: str) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in chunks(fh):
                digest.update(chunk)
        return digest.hexdigest()
    except (OSError, ValueError):
        return None


def _lookup(ledger: Ledger, arg: str) -> tuple[str, Item | None]:
    """By path (as given, resolved, then as printed); failing that, by the content of
    the file at that path (moved or renamed)."""

    def uploaded(path: str) -> Item | None:
        for candidate in dict.fromkeys((path, os.path.realpath(path))):
            found = ledger.item(candidate)
            if found is not None and found.state == "uploaded":
                return found
        return None

    path, item = paths.first_found(arg, uploaded)
    if item is not None:
        return path, item
    sha = _sha256_of(paths.existing(arg))
    found = [i for i in ledger.find(sha256=sha) if i.state == "uploaded"] if sha else []
    return path, (found[0] if found else None)


def cmd_url(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    choice = url_choice(args)
    with open_ledger(args) as ledger:
        found = [(arg, *_lookup(ledger, arg)) for arg in args.paths]
        rows = [{**url_row(choice, item), "path": ledger_text(path)}
                for _, path, item in found if item is not None]
    missing = [arg for arg, _, item in found if item is None]
    if args.format == "table":
        for row in rows:
            out.write(f"{cell(row['url'])}\n")
    else:
        emit(rows, args.format, out, URL_COLUMNS)
    for arg in missing:
        err.write(f"ossync: not uploaded: {printable(arg)}\n")
    return 1 if missing else 0


def _folder_label(ledger: Ledger, folder: str | None) -> str | None:
    """`--folder` takes a label or a path; a path maps to the label its files carry."""
    if folder is None or "/" not in folder:
        return text_arg(folder) if folder is not None else None
    return ledger.folder_under(paths.absolute(folder)) or text_arg(folder)


def cmd_ls(args: argparse.Namespace, out: TextIO) -> int:
    since, until = _time("--since", args.since), _time("--until", args.until)
    if args.replica is not None:
        with open_ledger(args) as ledger:
            copies = replica_items(args, ledger, since, until,
                                   _folder_label(ledger, args.folder))
            emit((record(i) for i in copies), args.format, out, LS_COLUMNS)
        return 0
    choice = url_choice(args)
    with open_ledger(args) as ledger:
        items = ledger.iter_items(since=since, until=until,
                                  folder=_folder_label(ledger, args.folder),
                                  state=None if args.state == "all" else args.state,
                                  limit=args.limit)
        emit((url_row(choice, i) for i in items), args.format, out, LS_COLUMNS)
    return 0


def _show_items(ledger: Ledger, what: str) -> list[Item]:
    if _SHA256.match(what):
        return ledger.find(sha256=what)
    if what.startswith(("/", "./", "../", "~")) or paths.on_disk(what):
        _, found = paths.first_found(what, lambda p: ledger.find(path=p))
        if found and found[0].sha256:
            return ledger.find(sha256=found[0].sha256) or found
        return found or []
    return ledger.find(key=text_arg(what))


def cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    choice = url_choice(args)
    with open_ledger(args) as ledger:
        items = _show_items(ledger, args.what)
        rows = [url_row(choice, i) for i in items]
        copies = copies_of(ledger, items)
        progress = [_parts_line(ledger, i) + copy_lines(c)
                    for i, c in zip(items, copies, strict=True)]
        if args.format in ("json", "nl"):
            rows = with_copies(rows, items, ledger)
    if not items:
        raise NotFound(f"nothing in the ledger for {shown(args.what)}")
    if args.format != "table":
        emit(rows, args.format, out, LS_COLUMNS)
    else:
        show_table(rows, progress, out)
    return 0


def _parts_line(ledger: Ledger, item: Item) -> str:
    """`    sending in parts: 120 of 256 stored` for a big file on its way."""
    if item.state not in ("pending", "uploading"):
        return ""
    found = ledger.multipart_of(item.host, item.path)
    if found is None:
        return ""
    row, parts = found
    total = -(-row.size // row.part_size)
    return f"    sending in parts: {len(parts)} of {total} stored (key {cell(row.key)})\n"


def cmd_status(args: argparse.Namespace, out: TextIO) -> int:
    with open_ledger(args) as ledger:
        if args.replica is None:
            status, deliveries = ledger.status(), ledger.deliveries()
        else:  # one replica's copies; its deliveries are everyone's
            status, deliveries = ledger.copy_status(known_replica(ledger, args.replica)), []
    data = dataclasses.asdict(status)
    data["top_errors"] = [{"error": e, "count": n} for e, n in status.top_errors]
    data["deliveries"] = [{k: v for k, v in dataclasses.asdict(d).items()
                           if k not in ("lease_until", "lease_left", "next_attempt")}
                          for d in deliveries]
    if args.format != "table":
        emit([data], args.format if args.format != "csv" else "nl", out, ())
        return 0
    if args.replica is not None:
        out.write(f"replica:         {cell(args.replica)}\n")
    out.write(f"queued:          {status.queued}\n"
              f"in progress:     {status.in_progress}\n"
              f"failed:          {status.failed}\n"
              f"skipped:         {status.skipped}\n"
              f"uploaded today:  {status.uploaded_today}\n"
              f"uploaded total:  {status.uploads_total} object(s) for "
              f"{status.uploaded_files} path(s)\n"
              f"oldest pending:  {status.oldest_pending_since or '-'}\n"
              f"last upload:     {status.last_upload_at or '-'}\n")
    for error, count in status.top_errors:
        out.write(f"  {count} failed: {cell(error)}\n")
    for d in deliveries:
        waiting = f", oldest from {d.oldest_pending_at}" if d.oldest_pending_at else ""
        out.write(f"deliveries to {cell(d.endpoint)}: through event {d.delivered}, "
                  f"{d.pending} waiting{waiting}; {d.sent} sent, {d.given_up} given up"
                  + (f"; last error: {cell(d.last_error)}" if d.last_error else "") + "\n")
    return 0


def cmd_retry(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    with open_ledger(args, write=True) as ledger:
        if args.all:
            count = ledger.retry_failed(None)
            out.write(f"re-queued {count} failed file(s)\n")
            return 0
        missing = [arg for arg in args.paths
                   if not paths.first_found(arg, lambda p: ledger.retry_failed([p]))[1]]
    out.write(f"re-queued {len(args.paths) - len(missing)} file(s)\n")
    for arg in missing:
        err.write(f"ossync: not a failed file in the ledger: {printable(arg)}\n")
    return 1 if missing else 0


def cmd_export(args: argparse.Namespace, out: TextIO) -> int:
    since = _time("--since", args.since)
    with open_ledger(args) as ledger:
        items = ledger.iter_items(since=since, state=None)
        emit((record(i) for i in items), args.format, out, LS_COLUMNS)
    return 0
