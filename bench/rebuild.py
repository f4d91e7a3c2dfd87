"""`ossync ledger rebuild` at scale: N objects with ossync's record (default 100,000) on
the local endpoint, rebuilt into an empty SQLite ledger; wall time, objects a second,
the rebuild's peak RSS and CPU, the endpoint's CPU.

    python bench/rebuild.py [--objects 100000] [--quick] [--concurrency 16] [--keep DIR]

The endpoint runs as its own process (`ossync local-oss`), as the rebuild does (`ossync
ledger rebuild`), so each may have a core: the goal is 100,000 objects in at most 60 s
on 2 cores. The objects are written straight into the endpoint's on-disk layout
(`ossync/localoss/store.py`) before it starts — uploading 100,000 files would measure
uploads — with small bodies: a HEAD costs the same whatever the size.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import BUCKET, ENV, TICKS, wait_until, write_config

from ossync.core.crc64 import crc64
from ossync.core.record import ObjectRecord

LABELS = ("camera1", "camera2", "scanner")


def populate(root: Path, count: int, drop: Path) -> None:
    """`count` objects with records, in the endpoint's layout, without fsyncs."""
    objects = root / BUCKET / "objects"
    now = time.time()
    for i in range(count):
        label = LABELS[i % len(LABELS)]
        body = f"ossync bench object {i}".encode() * 8
        sha = hashlib.sha256(body).hexdigest()
        key = f"images/2026/{i % 12 + 1:02d}/{label}/IMG_{i:07d}-{sha[:8]}.jpg"
        record = ObjectRecord(sha256=sha, size=len(body), crc64=crc64(body), folder=label,
                              host="bench-host", mtime_ns=1_700_000_000_000_000_000 + i,
                              path=f"{i // 1000:03d}/IMG_{i:07d}.jpg",
                              taken="2026-03-01T10:00:00+08:00")
        digest = hashlib.sha256(key.encode()).hexdigest()
        folder = objects / digest[:2]
        folder.mkdir(parents=True, exist_ok=True)
        data = f"{digest}.{uuid.uuid4().hex}.data"
        (folder / data).write_bytes(body)
        meta = {"key": key, "size": len(body),
                "etag": f'"{hashlib.md5(body, usedforsecurity=False).hexdigest().upper()}"',
                "crc64": crc64(body), "content_type": "image/jpeg", "mtime": now, "data": data,
                "user_meta": dict(record.metadata()), "parts": [],
                "extras": {"storage_class": "IA", "tags": {"source": "ossync"}}}
        (folder / f"{digest}.json").write_text(json.dumps(meta))
    for label in LABELS:
        (drop / label).mkdir(parents=True, exist_ok=True)


def _cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 objects")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--keep", type=Path, help="keep the endpoint's root and ledger here")
    args = parser.parse_args()
    count = 10_000 if args.quick else args.objects
    work = args.keep or Path(tempfile.mkdtemp(prefix="ossync-bench-rebuild-"))
    root, drop = work / "oss-root", work / "drop"
    began = time.monotonic()
    populate(root, count, drop)
    print(f"populated {count} objects in {time.monotonic() - began:.1f}s", flush=True)
    log = (work / "local-oss.log").open("wb")
    server = subprocess.Popen([sys.executable, "-m", "ossync", "local-oss", "--root",
                               str(root), "--bucket", BUCKET], stdout=log,
                              stderr=subprocess.STDOUT, env=ENV)
    try:
        wait_until(lambda: b"serving bucket" in (work / "local-oss.log").read_bytes(), 600)
        endpoint = (work / "local-oss.log").read_text().split(" at ", 1)[1].split(f"/{BUCKET}/")[0]
        watch = [{"path": str(drop / label), "label": label} for label in LABELS]
        cfg = write_config(work / "config.yaml", endpoint, watch, host="bench-host",
                           ledger=str(work / "rebuilt.db"))
        (work / "rebuilt.db").unlink(missing_ok=True)
        server_cpu = _cpu(server.pid)
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "ossync", "ledger", "rebuild", "-c",
                               str(cfg), "--json", "--concurrency", str(args.concurrency)],
                              env=ENV, capture_output=True, text=True, timeout=1800)
        seconds = time.monotonic() - started
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        server_cpu = _cpu(server.pid) - server_cpu
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:])
        return 1
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["uploads"] == count and summary["files"] == count, summary
    print(f"rebuild of {count} objects: {seconds:.1f}s wall, {count / seconds:.0f} objects/s")
    print(f"  rebuild process: {usage.ru_utime + usage.ru_stime:.1f}s CPU, peak RSS "
          f"{usage.ru_maxrss / 1024:.0f} MB; endpoint: {server_cpu:.1f}s CPU")
    print(f"  {summary['uploads']} uploads and {summary['files']} files written, "
          f"{summary['files_gone_from_disk']} files gone from disk; concurrency "
          f"{args.concurrency}; {os.cpu_count()} CPUs")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
