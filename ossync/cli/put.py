"""`ossync put`: upload the given files once, concurrently, and print one URL per line."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ossync.config import Config
from ossync.core.clock import zone
from ossync.core.errors import StoreError
from ossync.ledger import Ledger, LedgerError, Upload, WorkQueue
from ossync.targets import FileChanged, KeyTaken, Target, UploadResult
from ossync.targets.factory import make_target
from ossync.upload.journal import LedgerJournal
from ossync.upload.prepare import NotAnImage, choose_date, key_for, read_facts

PUT_FOLDER = "put"  # the ledger's folder label for one-shot uploads


@dataclass(frozen=True)
class PutOutcome:
    path: Path
    result: UploadResult | None = None
    error: str | None = None


def upload_one(target: Target, config: Config, path: Path,
               queue: WorkQueue | None) -> UploadResult:
    """Hash; reuse an object with the same bytes; else key, POST (on a key clash once more
    under the full-hash name); record the path in the ledger when there is one."""
    facts = read_facts(path)
    if facts.size > config.max_file_size:
        raise ValueError(f"{facts.size} bytes is over max_file_size ({config.max_file_size})")

    def remember(result: UploadResult | None = None, existing: Upload | None = None) -> None:
        if queue is not None:
            queue.record_direct(str(path), PUT_FOLDER, mtime_ns=facts.mtime_ns,
                                sha256=facts.sha256, content_type=facts.media.content_type,
                                bucket=config.bucket, result=result, existing=existing)

    existing = queue.ledger.upload_by_sha256(facts.sha256, config.bucket) if queue else None
    if existing is not None:
        remember(existing=existing)
        return UploadResult(key=existing.key, url=existing.url, size=existing.size,
                            etag=existing.etag, crc64=facts.crc64, already_present=True)
    when = choose_date(facts, config.date_source, zone(config.timezone))
    key = key_for(facts, prefix=config.prefix, name=config.name, relpath=path.name, when=when,
                  host=config.host)
    # A big file's parts are journaled in the ledger: `put` again resumes a cut-short one.
    journal = None if queue is None else LedgerJournal(
        queue.ledger, host=queue.ledger.host, path=str(path), bucket=config.bucket,
        sha256=facts.sha256)
    try:
        result = target.upload(path, key, content_type=facts.media.content_type,
                               journal=journal)
    except KeyTaken:
        key = key_for(facts, prefix=config.prefix, name="{stem}-{sha256}{ext}",
                      relpath=path.name, when=when)
        result = target.upload(path, key, content_type=facts.media.content_type,
                               journal=journal)
    remember(result=result)
    return result


def _open_queue(config: Config, stderr: TextIO) -> WorkQueue | None:
    try:
        return WorkQueue(Ledger.open(config.ledger, host=config.host))
    except (LedgerError, OSError) as exc:
        stderr.write(f"ossync: warning: uploads will not be recorded in the ledger: {exc}\n")
        return None


def _attempt(target: Target, config: Config, path: Path,
             queue: WorkQueue | None) -> PutOutcome:
    try:
        return PutOutcome(path, result=upload_one(target, config, path.absolute(), queue))
    except OSError as exc:
        return PutOutcome(path, error=f"cannot read: {exc.strerror or exc}")
    except (NotAnImage, StoreError, KeyTaken, FileChanged, ValueError) as exc:
        return PutOutcome(path, error=str(exc))


def run_put(config: Config, paths: list[Path], *, as_json: bool, stdout: TextIO,
            stderr: TextIO) -> int:
    """Returns 0 when every file landed, 1 when any failed (each named on stderr)."""
    target = make_target(config)
    queue = _open_queue(config, stderr)
    progress = stderr.isatty() and len(paths) > 1
    outcomes: list[PutOutcome] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(config.workers, len(paths)))) as pool:
            for done, outcome in enumerate(
                pool.map(lambda p: _attempt(target, config, p, queue), paths), 1
            ):
                outcomes.append(outcome)
                if progress:
                    stderr.write(f"\r[{done}/{len(paths)}] {outcome.path.name[:50]:<50}")
                    stderr.flush()
    finally:
        target.close()
        if queue is not None:
            queue.ledger.close()
    if progress:
        stderr.write("\r" + " " * 60 + "\r")
    _report(outcomes, as_json=as_json, stdout=stdout, stderr=stderr)
    return 1 if any(o.error for o in outcomes) else 0


def _report(outcomes: list[PutOutcome], *, as_json: bool, stdout: TextIO,
            stderr: TextIO) -> None:
    if as_json:
        rows = [{"path": str(o.path), "ok": o.error is None, "error": o.error,
                 **({"key": o.result.key, "url": o.result.url, "size": o.result.size,
                     "etag": o.result.etag, "already_present": o.result.already_present}
                    if o.result else {})} for o in outcomes]
        json.dump(rows, stdout, ensure_ascii=False, indent=2)
        stdout.write("\n")
    else:
        for o in outcomes:
            if o.result:
                stdout.write(o.result.url + "\n")
    for o in outcomes:
        if o.error:
            stderr.write(f"ossync: failed: {o.path}: {o.error}\n")

