"""`ossync events [--since ID] [--follow] [--json|--nl]`: the events apps hear about.

Read from the ledger (read-only), oldest first, so it is the same record a webhook and
`/v1/events` deliver, with the same ids. `--follow` keeps printing as events are
recorded: it sleeps on the ledger's bell, rung by `Feed.watch_events` (inotify on a
SQLite ledger's folder, LISTEN on PostgreSQL), never polling; Ctrl-C ends it (status
130). Without `--since` it prints every event, or with `--follow` only those to come.
The table shows one line per event (id, time, type, what it is about, printable);
`--json` is an array and `--nl` one object per line, `{"id", "type", "timestamp",
"data"}` as a webhook's body carries it.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Iterator
from typing import Any, TextIO

from ossync.cli.args import Parser
from ossync.cli.errors import UsageError
from ossync.cli.ledgers import open_ledger
from ossync.cli.output import cell, emit
from ossync.core.textforms import os_path
from ossync.ledger import Feed
from ossync.ledger.events import message

BATCH = 500
FOLLOW_WAIT = 300.0  # seconds a follow sleeps before it looks again (the bell wakes it)
WATCH_JOIN = 5.0


def event_id(text: str) -> int:
    if not text.strip().isdigit() or not text.strip().isascii() or len(text.strip()) > 19:
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (a whole number)")
    return int(text)


def add_arguments(sub: argparse._SubParsersAction[Parser], common: Any) -> None:
    events = sub.add_parser("events", help="print the events apps hear about (uploads, "
                                           "failures, holds), oldest first")
    common(events)
    events.add_argument("--since", type=event_id, default=None, metavar="ID",
                        help="only the events after this id (default: all; with --follow, "
                             "those to come)")
    events.add_argument("--follow", action="store_true",
                        help="keep printing events as they are recorded (Ctrl-C ends it)")
    group = events.add_mutually_exclusive_group()
    group.add_argument("--json", dest="format", action="store_const", const="json",
                       help="a JSON array")
    group.add_argument("--nl", dest="format", action="store_const", const="nl",
                       help="one JSON object per line")
    events.set_defaults(format="table")


def run(args: argparse.Namespace, out: TextIO) -> int:
    if args.follow and args.format == "json":
        raise UsageError("--follow never ends an array: use --nl (one object per line)")
    with open_ledger(args) as ledger:
        if args.follow:
            since = ledger.last_event_id() if args.since is None else args.since
            follow(ledger, since, args.format, out)
            return 0
        rows = (message(e) for e in _all_after(ledger, args.since or 0))
        if args.format == "table":
            for row in rows:
                out.write(line(row))
        else:
            emit(rows, args.format, out, ())
    return 0


def _all_after(ledger: Feed, since: int) -> Iterator[Any]:
    while True:
        found = ledger.events_after(since, BATCH)
        yield from found
        if len(found) < BATCH:
            return
        since = found[-1].id


def follow(ledger: Feed, since: int, fmt: str, out: TextIO,
           stop: threading.Event | None = None) -> None:
    """Until `stop` (or Ctrl-C): every event after `since`, as it is recorded."""
    stop = stop or threading.Event()
    watcher = threading.Thread(target=ledger.watch_events, args=(stop,),
                               name="ossync-events-watch", daemon=True)
    watcher.start()
    try:
        while not stop.is_set():
            for event in ledger.next_events(since, BATCH, FOLLOW_WAIT, stop):
                row = message(event)
                out.write(line(row) if fmt == "table" else json.dumps(row, ensure_ascii=False)
                          + "\n")
                since = event.id
            out.flush()
    finally:
        stop.set()
        watcher.join(WATCH_JOIN)


def line(row: dict[str, Any]) -> str:
    """`  12  2026-11-25T08:30:00.123Z  file.uploaded     /srv/drop/a.jpg → https://…`"""
    return (f"{row['id']:>6}  {row['timestamp']}  {row['type']:<17} "
            f"{cell(summary(row['type'], row['data']))}\n")


def summary(kind: str, data: dict[str, Any]) -> str:
    """What an event is about, in one line (paths in the OS form: `line` prints it)."""
    def path(name: str) -> str:
        return os_path(str(data.get(name) or ""))

    if kind == "file.uploaded":
        alias = f" (same bytes as {path('uploaded_from')})" if data.get("duplicate") else ""
        return f"{path('path')} → {data.get('url')}{alias}"
    if kind == "file.failed":
        return f"{path('path')}: {data.get('error')}"
    if kind in ("service.held", "service.resumed"):
        return f"{data.get('host')}: {'; '.join(data.get('reasons') or [])}"
    if kind == "delivery.gave_up":
        return (f"{data.get('endpoint')}: events {data.get('first_id')}-{data.get('last_id')} "
                f"({data.get('count')}): {data.get('error')}")
    return json.dumps(data, ensure_ascii=False)
