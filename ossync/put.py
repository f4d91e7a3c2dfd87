"""`ossync put`: upload the given files once, concurrently, and print one URL per line."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ossync.clock import zone
from ossync.config import Config
from ossync.errors import StoreError
from ossync.prepare import NotAnImage, choose_date, key_for, read_facts
from ossync.targets import FileChanged, KeyTaken, Target, UploadResult
from ossync.targets.factory import make_target


@dataclass(frozen=True)
class PutOutcome:
    path: Path
    result: UploadResult | None = None
    error: str | None = None


def upload_one(target: Target, config: Config, path: Path) -> UploadResult:
    """Hash, key, POST; on a key clash fall back to the full-hash name once."""
    facts = read_facts(path)
    if facts.size > config.max_file_size:
        raise ValueError(f"{facts.size} bytes is over max_file_size ({config.max_file_size})")
    when = choose_date(facts, config.date_source, zone(config.timezone))
    key = key_for(facts, prefix=config.prefix, name=config.name, relpath=path.name, when=when)
    try:
        return target.upload(path, key, content_type=facts.media.content_type)
    except KeyTaken:
        key = key_for(facts, prefix=config.prefix, name="{stem}-{sha256}{ext}",
                      relpath=path.name, when=when)
        return target.upload(path, key, content_type=facts.media.content_type)


def _attempt(target: Target, config: Config, path: Path) -> PutOutcome:
    try:
        return PutOutcome(path, result=upload_one(target, config, path))
    except OSError as exc:
        return PutOutcome(path, error=f"cannot read: {exc.strerror or exc}")
    except (NotAnImage, StoreError, KeyTaken, FileChanged, ValueError) as exc:
        return PutOutcome(path, error=str(exc))


def run_put(config: Config, paths: list[Path], *, as_json: bool, stdout: TextIO,
            stderr: TextIO) -> int:
    """Returns 0 when every file landed, 1 when any failed (each named on stderr)."""
    target = make_target(config)
    progress = stderr.isatty() and len(paths) > 1
    outcomes: list[PutOutcome] = []
    try:
        with ThreadPoolExecutor(max_workers=max(1, min(config.workers, len(paths)))) as pool:
            for done, outcome in enumerate(
                pool.map(lambda p: _attempt(target, config, p), paths), 1
            ):
                outcomes.append(outcome)
                if progress:
                    stderr.write(f"\r[{done}/{len(paths)}] {outcome.path.name[:50]:<50}")
                    stderr.flush()
    finally:
        target.close()
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

