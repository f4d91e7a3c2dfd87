"""`ossync ledger rebuild`: write a lost ledger's rows again from the bucket alone.

The bucket is listed (ListObjectsV2, a page of 1000 keys at a time, optionally under
`--prefix`); each object's record (`ossync.core.record`) is read by a HEAD, many in
parallel and at most `--rate` a second (`ossync.cli.heads`); each page's rows are
written in one transaction (`Copier.restore`) as the pages come, so memory stays flat
and a rebuild cut short continues with `--force`, skipping the objects already
recorded. Objects without a record are reported as foreign and left out.

It writes into an empty ledger (a new SQLite file or an empty PostgreSQL database) and
refuses one that has rows unless `--force`; a SQLite ledger is opened as the daemon
opens it, so a running daemon refuses the rebuild. `--dry-run` writes nothing and says
what it would write.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TextIO

from ossync.cli.args import Parser, path_text
from ossync.cli.errors import UsageError, line
from ossync.cli.heads import Answer, Heads
from ossync.cli.ledgers import given_location
from ossync.cli.loading import load
from ossync.cli.rebuild_rows import Finding, Planned, Rows
from ossync.config import Config
from ossync.core.errors import OssyncError
from ossync.core.objects import Listed
from ossync.core.textforms import printable
from ossync.ledger import FileRow, Ledger, LedgerError, Upload, display_location
from ossync.stores import make_reader
from ossync.targets import BucketReader


class RebuildRefused(OssyncError):
    """The ledger already has rows and `--force` was not given."""


def add_arguments(verbs: argparse._SubParsersAction[Parser],
                  common: Callable[[argparse.ArgumentParser], None]) -> None:
    rebuild = verbs.add_parser("rebuild", help="write a lost ledger's rows again from the "
                                               "records on the bucket's objects")
    common(rebuild)
    rebuild.add_argument("--ledger", type=path_text, default=None,
                         help="the ledger to write (default: the config's ledger:)")
    rebuild.add_argument("--prefix", default="", help="only objects whose keys start so")
    rebuild.add_argument("--dry-run", action="store_true",
                         help="write nothing; print what would be written")
    rebuild.add_argument("--force", action="store_true",
                         help="write into a ledger that has rows (rows it has are kept: "
                              "continues a rebuild that was cut short)")
    rebuild.add_argument("--all-hosts", action="store_true",
                         help="file rows for every host's objects, not only this host's "
                              "(a shared PostgreSQL ledger)")
    rebuild.add_argument("--concurrency", type=int, default=16, choices=range(1, 257),
                         metavar="N", help="HEADs in flight at once (default 16)")
    rebuild.add_argument("--rate", type=float, default=None, metavar="PER_SECOND",
                         help="at most this many HEADs a second (default: no bound)")
    rebuild.add_argument("--json", action="store_true",
                         help="print the summary as one JSON object")


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load(args.config)
    location = given_location(args.ledger, "--ledger") if args.ledger else config.ledger
    shared = "://" in str(location) and not str(location).startswith("sqlite://")
    if args.all_hosts and not shared:
        raise UsageError("--all-hosts: a SQLite ledger serves one host; use it with a "
                         "shared PostgreSQL ledger")
    reader = make_reader(config, pool_size=args.concurrency)
    try:
        if args.dry_run:
            return _report(Rebuild(config, reader, None, args).run(out, err), args, out)
        with _open(location, config.host) as ledger:
            _refuse_rows(ledger, location, args.force)
            return _report(Rebuild(config, reader, ledger, args).run(out, err), args, out)
    finally:
        reader.close()


def _open(location: object, host: str) -> Ledger:
    """Opened as the daemon opens it (exclusively, for this host), so a running daemon
    refuses the rebuild; what the system refuses said as the ledger's error."""
    try:
        return Ledger.open(str(location), exclusive=True, host=host)
    except OSError as exc:
        raise LedgerError(f"ledger {printable(display_location(str(location)))}: cannot "
                          f"open it: {exc.strerror or exc}") from None


def _refuse_rows(ledger: Ledger, location: object, force: bool) -> None:
    files, uploads = sum(ledger.counts().values()), ledger.status().uploads_total
    if (files or uploads) and not force:
        raise RebuildRefused(
            f"ledger {printable(display_location(str(location)))} has {uploads} uploads and "
            f"{files} files; rebuild into an empty ledger, or add --force to keep its rows "
            "and add what the bucket holds besides (as after a rebuild cut short)")


class Rebuild:
    def __init__(self, config: Config, reader: BucketReader, ledger: Ledger | None,
                 args: argparse.Namespace) -> None:
        self.config, self.reader, self.ledger, self.args = config, reader, ledger, args
        ids = ledger.max_ids() if ledger is not None else (0, 0)
        self.rows = Rows(bucket=config.bucket, host=config.host,
                         folders={w.label: w for w in config.watch}, url_for=reader.url_for,
                         ids=ids, all_hosts=args.all_hosts)
        self.known = {u.key for u in ledger.iter_uploads() if u.bucket == config.bucket} \
            if ledger is not None and ids != (0, 0) else set()
        self.counts: Counter[str] = Counter()

    def run(self, out: TextIO, err: TextIO) -> Counter[str]:
        """Page after page; the next page is listed and its HEADs are on their way while
        this one's answers become rows."""
        progress = err.isatty()
        with Heads(self.reader, self.args.concurrency, self.args.rate) as heads:
            waiting: deque[tuple[list[Listed], list[Future[list[Answer]]]]] = deque()
            token: str | None = None
            listed_all = False
            while waiting or not listed_all:
                if not listed_all:
                    page = self.reader.list_page(self.args.prefix, token)
                    fresh = [o for o in page.objects if o.key not in self.known]
                    self.counts["listed"] += len(page.objects)
                    self.counts["known"] += len(page.objects) - len(fresh)
                    waiting.append((fresh, heads.ask([o.key for o in fresh])))
                    token = page.token
                    listed_all = token is None
                if len(waiting) > 1 or listed_all:
                    self._write(*waiting.popleft(), out)
                if progress:
                    err.write(f"\r  {self.counts['listed']} listed, {self.counts['uploads']} "
                              f"uploads, {self.counts['files']} files")
        if progress:
            err.write("\n")
        if self.ledger is not None:
            self.ledger.refresh_statistics()
        return self.counts

    def _write(self, listed: list[Listed], batches: list[Future[list[Answer]]],
               out: TextIO) -> None:
        """One page's rows, in one transaction."""
        uploads: list[Upload] = []
        files: list[FileRow] = []
        answers = [answer for batch in batches for answer in batch.result()]
        for one, answer in zip(listed, answers, strict=True):
            planned = self.rows.of(one, answer)
            self._note(planned, out)
            if isinstance(planned, Planned):
                uploads.append(planned.upload)
                files += [planned.file] if planned.file is not None else []
        if self.ledger is not None and (uploads or files):
            self.ledger.restore(uploads, files)

    def _note(self, planned: Planned | Finding, out: TextIO) -> None:
        finding = planned if isinstance(planned, Finding) else planned.finding
        if isinstance(planned, Planned):
            self.counts["uploads"] += 1
            self.counts["files"] += planned.file is not None
            self.counts[planned.disk] += planned.file is not None
            if self.args.dry_run:
                where = planned.file.path if planned.file is not None else "no file row"
                out.write(f"would record {printable(planned.upload.key)} -> "
                          f"{printable(where)} ({planned.disk})\n")
        if finding is not None:
            self.counts[finding.kind] += 1
            if not self.args.json:
                out.write(f"{finding.kind}: {printable(finding.key)}: {line(finding.detail)}\n")


TROUBLE = ("error", "unreadable", "differs")


def _report(counts: Counter[str], args: argparse.Namespace, out: TextIO) -> int:
    verb = "would write" if args.dry_run else "wrote"
    summary = {"listed": counts["listed"], "already_recorded": counts["known"],
               "uploads": counts["uploads"], "files": counts["files"],
               "files_on_disk": counts["on disk"],
               "files_recognised_on_disk": counts["recognised on disk"],
               "files_gone_from_disk": counts["gone from disk"],
               "changed_on_disk": counts["changed"], "unplaced": counts["unplaced"],
               "foreign": counts["foreign"], "unreadable": counts["unreadable"],
               "differs": counts["differs"], "errors": counts["error"],
               "dry_run": bool(args.dry_run)}
    if args.json:
        out.write(json.dumps(summary) + "\n")
    else:
        out.write(f"{verb} {summary['uploads']} uploads and {summary['files']} files "
                  f"({summary['files_on_disk']} on disk, {summary['files_recognised_on_disk']} "
                  f"recognised by content, {summary['files_gone_from_disk']} gone from disk) "
                  f"from {summary['listed']} objects; {summary['foreign']} foreign, "
                  f"{summary['already_recorded']} already recorded, "
                  f"{sum(counts[k] for k in TROUBLE)} with problems\n")
    return 1 if any(counts[k] for k in TROUBLE) else 0

