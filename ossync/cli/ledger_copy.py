"""`ossync ledger copy SRC DST`: move a ledger between SQLite and PostgreSQL.

Rows keep their ids, go over in batches (one transaction each) and are skipped
when already there, so an interrupted copy resumes where it stopped. At the end
both sides are read again and compared: row counts and a SHA-256 over every row
in id order. Stop the daemons that write SRC first.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TextIO, TypeVar

from ossync.cli.args import Parser, path_text
from ossync.cli.errors import UsageError, shown
from ossync.cli.ledgers import given_location, open_at
from ossync.core.errors import OssyncError
from ossync.core.textforms import printable
from ossync.ledger import FileRow, Ledger, Upload, display_location

BATCH = 1000
_T = TypeVar("_T")


class CopyMismatch(OssyncError):
    """The copy does not match its source."""


def add_arguments(sub: argparse._SubParsersAction[Parser],
                  common: Callable[[argparse.ArgumentParser], None]
                  ) -> argparse._SubParsersAction[Parser]:
    """`ossync ledger` and its `copy` verb; returns the verbs, for the other commands."""
    ledger = sub.add_parser("ledger", help="work on a ledger as a whole")
    verbs = ledger.add_subparsers(dest="ledger_command", metavar="VERB", required=True)
    copy = verbs.add_parser("copy", help="copy SRC into DST (SQLite ↔ PostgreSQL), resumable, "
                                         "verified by counts and hashes")
    common(copy)
    copy.add_argument("src", type=path_text, help="a ledger file or a postgresql:// URL")
    copy.add_argument("dst", type=path_text,
                      help="a ledger file or a postgresql:// URL (created if need be)")
    return verbs


def _batches(rows: Iterable[_T]) -> Iterator[list[_T]]:
    it = iter(rows)
    while batch := list(islice(it, BATCH)):
        yield batch


def digest(ledger: Ledger) -> tuple[int, int, str]:
    """(uploads, files, sha256 over every row of both, in id order)."""
    sha = hashlib.sha256()
    uploads = _feed(sha, ledger.iter_uploads())
    files = _feed(sha, ledger.iter_files())
    return uploads, files, sha.hexdigest()


def _feed(sha: hashlib._Hash, rows: Iterable[Upload | FileRow]) -> int:
    count = 0
    for row in rows:
        count += 1
        sha.update(json.dumps(dataclasses.astuple(row), default=str).encode() + b"\n")
    return count


def copy(src: Ledger, dst: Ledger, out: TextIO) -> tuple[int, int]:
    """Rows of `src` not yet in `dst`, batch by batch; returns (uploads, files) copied."""
    done_uploads, done_files = dst.max_ids()
    copied = [0, 0]
    empty_uploads: list[Upload] = []
    empty_files: list[FileRow] = []
    for batch in _batches(src.iter_uploads(after_id=done_uploads)):
        dst.copy_in(batch, empty_files)
        copied[0] += len(batch)
    for batch_files in _batches(src.iter_files(after_id=done_files)):
        dst.copy_in(empty_uploads, batch_files)
        copied[1] += len(batch_files)
        out.write(f"\r  {copied[0]} uploads, {copied[1]} files copied")
    return copied[0], copied[1]


def _same_ledger(a: str, b: str) -> bool:
    """Two spellings of one ledger: one file (however reached), or one database URL."""
    def where(location: str) -> str:
        if "://" in location and not location.startswith("sqlite://"):
            return display_location(location)
        return os.path.realpath(location.removeprefix("sqlite://"))

    return where(a) == where(b)


def run(args: argparse.Namespace, out: TextIO) -> int:
    src_at, dst_at = given_location(args.src, "SRC"), given_location(args.dst, "DST")
    if _same_ledger(src_at, dst_at):
        raise UsageError(f"SRC and DST are the same ledger ({shown(display_location(src_at))}); "
                         "copy into a new file or an empty database")
    with open_at(src_at, readonly=True) as src, open_at(dst_at, readonly=False) as dst:
        out.write(f"copying {printable(display_location(src_at))} -> "
                  f"{printable(display_location(dst_at))}\n")
        uploads, files = copy(src, dst, out)
        dst.refresh_statistics()
        out.write(f"\rcopied {uploads} uploads and {files} files (the rest was there)\n")
        theirs, ours = digest(src), digest(dst)
    if theirs != ours:
        raise CopyMismatch(f"the copy differs from its source: source has {theirs[0]} "
                           f"uploads and {theirs[1]} files (sha256 {theirs[2][:16]}…), the "
                           f"copy {ours[0]} and {ours[1]} (sha256 {ours[2][:16]}…); was the "
                           "destination empty, and were the daemons stopped?")
    out.write(f"verified: {ours[0]} uploads and {ours[1]} files on both sides, "
              f"sha256 {ours[2]}\n")
    return 0
