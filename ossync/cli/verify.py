"""`ossync verify`: check from the other side that what the ledger says was uploaded is
in the bucket as it was sent — after an incident, a migration or a lifecycle rule change.

Each chosen upload is HEADed (many at once, `ossync.cli.heads`) and compared: missing,
another size, another CRC-64 (where the store gives one: OSS, a local folder), another
ETag (where it does not: S3). Each difference is one line (or one JSON object with
`--json`); exit status 0 when all agree, 1 when any differ.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TextIO

from ossync.cli.args import Parser, limit
from ossync.cli.heads import Answer, Heads
from ossync.cli.ledgers import open_ledger
from ossync.cli.loading import load
from ossync.core.textforms import ledger_text, printable
from ossync.ledger import Upload
from ossync.stores import make_reader

BATCH = 1000


def add_arguments(sub: argparse._SubParsersAction[Parser],
                  common: Callable[[argparse.ArgumentParser], None]) -> None:
    verify = sub.add_parser("verify", help="HEAD what the ledger says was uploaded and "
                                           "report missing or different objects")
    common(verify)
    which = verify.add_mutually_exclusive_group()
    which.add_argument("--sample", type=limit, default=100, metavar="N",
                       help="check N uploads chosen at random (default 100)")
    which.add_argument("--all", action="store_true", help="check every upload")
    verify.add_argument("--json", action="store_true", help="the differences as a JSON array")
    verify.add_argument("--concurrency", type=int, default=16, choices=range(1, 257),
                        metavar="N", help="HEADs in flight at once (default 16)")
    verify.add_argument("--rate", type=float, default=None, metavar="PER_SECOND",
                        help="at most this many HEADs a second (default: no bound)")


def chosen(uploads: Iterable[Upload], sample: int | None, rng: random.Random) -> list[Upload]:
    """All uploads, or `sample` of them chosen uniformly in one pass (reservoir)."""
    if sample is None:
        return list(uploads)
    kept: list[Upload] = []
    for seen, upload in enumerate(uploads):
        if seen < sample:
            kept.append(upload)
        else:
            slot = rng.randrange(seen + 1)
            if slot < sample:
                kept[slot] = upload
    return kept


def difference(upload: Upload, answer: Answer) -> dict[str, Any] | None:
    """What is wrong with one object, as the JSON contract spells it; None if nothing."""
    base = {"key": upload.key, "path": ledger_text(upload.path), "url": upload.url}
    info = answer.info
    if answer.error is not None:
        return {**base, "problem": "error", "expected": None, "found": str(answer.error)}
    if info is None:
        return {**base, "problem": "missing", "expected": "an object", "found": None}
    size = upload.sent_size if upload.sent_size is not None else upload.size
    if info.size != size:
        return {**base, "problem": "size", "expected": size, "found": info.size}
    crc = upload.sent_crc64 or upload.crc64
    if info.crc64 is not None and crc is not None:
        if str(info.crc64) != crc:
            return {**base, "problem": "crc64", "expected": crc, "found": str(info.crc64)}
    elif upload.etag and info.etag and _bare(upload.etag) != _bare(info.etag):
        return {**base, "problem": "etag", "expected": upload.etag, "found": info.etag}
    return None


def _bare(etag: str) -> str:
    return etag.strip().strip('"').lower()


def _batches(items: list[Upload]) -> Iterator[list[Upload]]:
    it = iter(items)
    while batch := list(itertools.islice(it, BATCH)):
        yield batch


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load(args.config)
    with open_ledger(args) as ledger:
        uploads = chosen((u for u in ledger.iter_uploads() if u.bucket == config.bucket),
                         None if args.all else args.sample, random.Random())
    reader = make_reader(config, pool_size=args.concurrency)
    found: list[dict[str, Any]] = []
    try:
        with Heads(reader, args.concurrency, args.rate) as heads:
            for batch in _batches(uploads):
                answers = heads.of([u.key for u in batch])
                for upload, answer in zip(batch, answers, strict=True):
                    problem = difference(upload, answer)
                    if problem is not None:
                        found.append(problem)
                        if not args.json:
                            out.write(_line(problem) + "\n")
    finally:
        reader.close()
    if args.json:
        out.write(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
    err.write(f"ossync verify: checked {len(uploads)} object(s) in {config.bucket}: "
              f"{len(found)} differ\n")
    return 1 if found else 0


def _line(problem: dict[str, Any]) -> str:
    where = f"{printable(problem['key'])} ({printable(problem['path'])})"
    if problem["problem"] == "missing":
        return f"missing: {where}: not in the bucket"
    if problem["problem"] == "error":
        return f"error: {where}: {printable(str(problem['found']))}"
    return (f"{problem['problem']} differs: {where}: the ledger says {problem['expected']}, "
            f"the bucket {problem['found']}")
