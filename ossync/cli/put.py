"""`ossync put`: upload the given files once, concurrently, and print one URL per line."""

from __future__ import annotations

import json
import stat
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

import ossync.cli.paths as paths
from ossync.cli.errors import line
from ossync.cli.output import machine
from ossync.cli.put_records import BatchRecorder
from ossync.config import Config
from ossync.core.clock import zone
from ossync.core.errors import OssyncError
from ossync.core.objects import FileChanged, KeyTaken, UploadResult
from ossync.core.textforms import ledger_text, printable
from ossync.ledger import DirectRecord, Ledger, LedgerError, Upload
from ossync.stores import make_target, metadata_limit
from ossync.targets import Target
from ossync.upload.journal import LedgerJournal
from ossync.upload.options import Place, options_for
from ossync.upload.prepare import NotAnImage, choose_date, key_for, read_facts

PUT_FOLDER = "put"  # the ledger's folder label for one-shot uploads
_FILE_ERRORS = (NotAnImage, KeyTaken, FileChanged, ValueError, OssyncError)  # one file's


@dataclass(frozen=True)
class PutOutcome:
    path: Path
    result: UploadResult | None = None
    error: str | None = None
    recorded: Future[Upload] | None = None  # the ledger's record, committed in a batch


def upload_one(target: Target, config: Config, path: Path, ledger: Ledger | None,
               records: BatchRecorder | None) -> tuple[UploadResult, Future[Upload] | None]:
    """Hash; reuse an object with the same bytes; else key, POST (on a key clash once more
    under the full-hash name); hand the path's record to `records` (the ledger's writer),
    with the future of its commit."""
    facts = read_facts(path)
    if facts.size > config.max_file_size:
        raise ValueError(f"{facts.size} bytes is over max_file_size ({config.max_file_size})")

    def remember(result: UploadResult | None = None,
                 existing: Upload | None = None) -> Future[Upload] | None:
        if records is None:
            return None
        return records.record(DirectRecord(str(path), PUT_FOLDER, facts.mtime_ns,
                                           facts.sha256, facts.media.content_type,
                                           config.bucket, result, existing))

    existing = records.stored(config.bucket, facts.sha256) if records else None
    if existing is not None:
        return UploadResult(key=existing.key, url=existing.url, size=existing.size,
                            etag=existing.etag, crc64=facts.crc64,
                            already_present=True), remember(existing=existing)
    when = choose_date(facts, config.date_source, zone(config.timezone))
    key = key_for(facts, prefix=config.prefix, name=config.name, relpath=path.name, when=when,
                  host=config.host)
    # A big file's parts are journaled in the ledger: `put` again resumes a cut-short one.
    journal = None if ledger is None else LedgerJournal(
        ledger, host=ledger.host, path=str(path), bucket=config.bucket, sha256=facts.sha256)
    # No watch folder to be relative to: the record keeps the path the user named.
    settings = config.objects if config.objects.object_record == "off" else replace(
        config.objects, object_record="absolute")
    place = Place(path.name, str(path), PUT_FOLDER, config.host, when)
    options = options_for(settings, facts, None, place, limit=metadata_limit(config),
                          tz=zone(config.timezone))
    try:
        result = target.upload(path, key, content_type=facts.media.content_type,
                               journal=journal, options=options)
    except KeyTaken:
        key = key_for(facts, prefix=config.prefix, name="{stem}-{sha256}{ext}",
                      relpath=path.name, when=when)
        result = target.upload(path, key, content_type=facts.media.content_type,
                               journal=journal, options=options)
    if result.tagging_owed:  # nothing to resume from here: set them at once
        target.tag(key, options.tags)
    return result, remember(result=result)


def _open_ledger(config: Config, stderr: TextIO) -> Ledger | None:
    try:
        return Ledger.open(config.ledger, host=config.host)
    except (LedgerError, OSError) as exc:
        stderr.write(f"ossync: warning: uploads will not be recorded in the ledger: "
                     f"{line(str(exc))}\n")
        return None


def _not_a_file(path: Path) -> str | None:
    """Why `path` cannot be read as one file (None: it can). Checked first, so that a
    FIFO is never opened (that would wait for a writer forever)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(mode):
        return "is a folder, not a file (give its files: ossync put DIR/*)"
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else (
            "a device")
        return f"is {kind}, not a regular file"
    return None


def _attempt(target: Target, config: Config, path: Path, ledger: Ledger | None,
             records: BatchRecorder | None) -> PutOutcome:
    found = Path(paths.existing(str(path)))  # a name pasted from a log line: its OS form
    refused = _not_a_file(found)
    if refused is not None:
        return PutOutcome(path, error=refused)
    try:
        result, recorded = upload_one(target, config, found.absolute(), ledger, records)
    except OSError as exc:
        return PutOutcome(path, error=f"cannot read: {exc.strerror or exc}")
    except _FILE_ERRORS as exc:
        return PutOutcome(path, error=str(exc))  # a store's, the ledger's: this file's
    return PutOutcome(path, result=result, recorded=recorded)


def _settled(outcome: PutOutcome) -> PutOutcome:
    """The outcome once its record is committed: a file the ledger could not record
    failed, as when it was recorded on the spot."""
    try:
        if outcome.recorded is not None:
            outcome.recorded.result()
    except _FILE_ERRORS as exc:
        return PutOutcome(outcome.path, error=str(exc))
    return outcome


def run_put(config: Config, files: list[Path], *, as_json: bool, stdout: TextIO,
            stderr: TextIO) -> int:
    """Returns 0 when every file landed, 1 when any failed (each named on stderr)."""
    target = make_target(config)
    ledger = _open_ledger(config, stderr)
    records = None if ledger is None else BatchRecorder(ledger)
    progress = stderr.isatty() and len(files) > 1
    outcomes: list[PutOutcome] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(config.workers, len(files)))) as pool:
            for done, outcome in enumerate(
                pool.map(lambda p: _attempt(target, config, p, ledger, records), files), 1
            ):
                outcomes.append(outcome)
                if progress:
                    name = printable(outcome.path.name)[:50]
                    stderr.write(f"\r[{done}/{len(files)}] {name:<50}")
                    stderr.flush()
    finally:
        target.close()
        if records is not None:
            records.close()  # every record handed in is committed (or failed) by now
        if ledger is not None:
            ledger.close()
    if progress:
        stderr.write("\r" + " " * 60 + "\r")
    outcomes = [_settled(o) for o in outcomes]
    _report(outcomes, as_json=as_json, stdout=stdout, stderr=stderr)
    return 1 if any(o.error for o in outcomes) else 0


def _report(outcomes: list[PutOutcome], *, as_json: bool, stdout: TextIO,
            stderr: TextIO) -> None:
    if as_json:
        rows = [machine({"path": ledger_text(str(o.path)), "ok": o.error is None,
                         "error": o.error,
                         **({"key": o.result.key, "url": o.result.url, "size": o.result.size,
                             "etag": o.result.etag,
                             "already_present": o.result.already_present}
                            if o.result else {})}) for o in outcomes]
        json.dump(rows, stdout, ensure_ascii=False, indent=2)
        stdout.write("\n")
    else:
        for o in outcomes:
            if o.result:
                stdout.write(printable(o.result.url) + "\n")
    for o in outcomes:
        if o.error:
            stderr.write(f"ossync: failed: {printable(str(o.path))}: {line(o.error)}\n")

