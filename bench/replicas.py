"""Replicas: the same drop of photos to one destination and to two, in the same run.

    .venv/bin/python bench/replicas.py [--count 500] [--mb 2] [--workers 4]

Three runs of the daemon (a subprocess), each over the same N photos written into its
folder before it starts (its first scan finds them), page cache dropped when this is
root so "read from storage" is real:
- oss:   the local endpoint (in this process, on 127.0.0.1) as the only destination;
- local: a `local:` folder as the only destination;
- both:  the local endpoint as the primary and the folder as a replica.

For each: wall time from the daemon ready to every file uploaded (and copied), the
daemon's CPU seconds, and the bytes it read from files per photo, from /proc/PID/io:
`rchar` (every read() the process made: file bytes, whether from the page cache or the
disk, plus the few the sockets and the ledger take) and `read_bytes` (what the block
layer fetched from storage for it). The issue's target: both <= 1.1 x the slower alone.

`--down S` adds a fourth run: the endpoint as the primary and a second endpoint as the
replica, that replica down for the first S seconds (`retry_max_delay: 10s`): when the
primary had every file (against the `oss` run alone), how long the replica took to catch
up once back, and the objects in each (nothing lost, nothing twice).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import BUCKET, CREDS, DaemonProc, jpeg, wait_until

from ossync.ledger import Ledger
from ossync.localoss import LocalOSS


def _io(pid: int) -> dict[str, int]:
    fields = (line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return {k: int(v) for k, v in fields}


def _drop_caches() -> bool:
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def _done(ledger: Path, count: int, replica: str | None) -> bool:
    if not ledger.exists():
        return False
    with Ledger.open(ledger, readonly=True) as led:
        if led.status().uploaded_files < count:
            return False
        return replica is None or led.copy_counts().get(replica, {}).get("uploaded", 0) == count


def run(name: str, work: Path, photos: list[bytes], workers: int) -> dict[str, Any]:
    root = work / name
    drop, nas = root / "drop", root / "nas"
    drop.mkdir(parents=True)
    nas.mkdir()
    for i, data in enumerate(photos):
        (drop / f"IMG_{i:05d}.jpg").write_bytes(data)
    server = LocalOSS(root / "oss", [BUCKET], CREDS).start()
    try:
        doc: dict[str, Any] = {
            "ledger": str(root / "ledger.db"), "date_source": "mtime", "workers": workers,
            "settle_seconds": 0.2, "scan_interval": "1h",
            "watch": [{"path": str(drop), "label": "drop"}]}
        oss = {"endpoint": server.endpoint, "region": "cn-hangzhou", "bucket": BUCKET}
        if name == "local":
            doc["local"] = {"path": str(nas)}
        else:
            doc["oss"] = oss
        if name == "both":
            doc["replicas"] = [{"name": "nas", "local": {"path": str(nas)}}]
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump(doc))
        cached = _drop_caches()
        daemon = DaemonProc(config, root / "daemon.log")
        try:
            before = _io(daemon.proc.pid)
            done = wait_until(lambda: _done(root / "ledger.db", len(photos),
                                            "nas" if name == "both" else None), 1800, 0.05)
            after = _io(daemon.proc.pid)
            cpu = daemon.cpu_seconds()
        finally:
            daemon.stop()
    finally:
        server.stop()
    total = sum(len(p) for p in photos)
    return {"name": name, "seconds": done - daemon.ready_at, "cpu": cpu,
            "rchar_per_file": (after["rchar"] - before["rchar"]) / total,
            "storage_per_file": (after["read_bytes"] - before["read_bytes"]) / total,
            "caches_dropped": cached}


def run_down(work: Path, photos: list[bytes], workers: int, down: float) -> dict[str, Any]:
    """The replica (a second endpoint) away for `down` seconds from the daemon's start."""
    root = work / "down"
    drop = root / "drop"
    drop.mkdir(parents=True)
    for i, data in enumerate(photos):
        (drop / f"IMG_{i:05d}.jpg").write_bytes(data)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = LocalOSS(root / "oss", [BUCKET], CREDS).start()
    far: LocalOSS | None = None
    try:
        doc: dict[str, Any] = {
            "ledger": str(root / "ledger.db"), "date_source": "mtime", "workers": workers,
            "settle_seconds": 0.2, "scan_interval": "1h", "retry_initial_delay": "1s",
            "retry_max_delay": "10s", "watch": [{"path": str(drop), "label": "drop"}],
            "oss": {"endpoint": server.endpoint, "region": "cn-hangzhou", "bucket": BUCKET},
            "replicas": [{"name": "far", "oss": {"endpoint": f"http://127.0.0.1:{port}",
                                                 "region": "cn-hangzhou",
                                                 "bucket": "far-bucket"}}]}
        config = root / "config.yaml"
        config.write_text(yaml.safe_dump(doc))
        daemon = DaemonProc(config, root / "daemon.log")
        try:
            primary = wait_until(lambda: _done(root / "ledger.db", len(photos), None), 1800,
                                 0.05)
            back_at = daemon.ready_at + down
            time.sleep(max(back_at - time.monotonic(), 0.0))
            far = LocalOSS(root / "far", ["far-bucket"], CREDS, port=port).start()
            back = time.monotonic()
            caught = wait_until(lambda: _done(root / "ledger.db", len(photos), "far"), 1800,
                                0.05)
        finally:
            daemon.stop()
        counts = (len(list(server.app.buckets[BUCKET].snapshot())),
                  len(list(far.app.buckets["far-bucket"].snapshot())))
    finally:
        server.stop()
        if far is not None:
            far.stop()
    return {"primary_seconds": primary - daemon.ready_at, "catch_up_seconds": caught - back,
            "objects": counts}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500, help="photos (default 500)")
    parser.add_argument("--mb", type=float, default=2.0, help="MB per photo (default 2)")
    parser.add_argument("--workers", type=int, default=4, help="workers (default 4)")
    parser.add_argument("--down", type=float, default=0.0, metavar="S",
                        help="also run with the replica down for S seconds (e.g. 60)")
    args = parser.parse_args()
    photos = [jpeg(int(args.mb * 1e6), i) for i in range(args.count)]
    work = Path(tempfile.mkdtemp(prefix="ossync-bench-replicas-"))
    try:
        rows = [run(name, work, photos, args.workers) for name in ("oss", "local", "both")]
        down = run_down(work, photos, args.workers, args.down) if args.down else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{args.count} x {args.mb:g} MB, {args.workers} workers, "
          f"{os.cpu_count()} CPUs, page cache dropped: {rows[0]['caches_dropped']}")
    print(f"{'run':<7}{'wall s':>8}{'cpu s':>8}{'MB/s':>8}{'read()/file':>13}"
          f"{'storage/file':>14}")
    size = args.count * args.mb
    for r in rows:
        print(f"{r['name']:<7}{r['seconds']:>8.1f}{r['cpu']:>8.1f}{size / r['seconds']:>8.0f}"
              f"{r['rchar_per_file']:>12.2f}x{r['storage_per_file']:>13.2f}x")
    slower = max(rows[0]["seconds"], rows[1]["seconds"])
    print(f"both / slower alone: {rows[2]['seconds'] / slower:.2f} (target <= 1.1)")
    if down is not None:
        print(f"replica down {args.down:g}s: the primary had every file after "
              f"{down['primary_seconds']:.1f}s ({down['primary_seconds'] / rows[0]['seconds']:.2f}"
              f" x the oss run alone); the replica caught up {down['catch_up_seconds']:.1f}s "
              f"after it came back; objects primary/replica: {down['objects'][0]}/"
              f"{down['objects'][1]} of {args.count}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
