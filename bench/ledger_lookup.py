"""Ledger look-up speed at scale: fill a ledger with N uploads (default 1,000,000), then time
`url_for(path)`, `find(key=)`, `find(sha256=)` (p50/p99 over random samples) and the
`ossync ls --since 1d --json` command end to end.

    python bench/ledger_lookup.py [--rows 1000000] [--samples 2000] [--keep DIR]

Rows are written straight into the real schema (the daemon would take hours to upload a
million files); the queries are the ones the CLI and the Python API run.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ossync.ledger import Ledger, stamp


def fill(path: Path, rows: int, days: int = 30) -> None:
    """N uploads spread evenly over the last `days` days, one path each."""
    now = datetime.now(timezone.utc)
    step = timedelta(days=days) / rows
    with Ledger.open(path) as ledger, ledger.transaction() as conn:
        for start in range(0, rows, 50_000):
            uploads, files = [], []
            for i in range(start, min(start + 50_000, rows)):
                sha = hashlib.sha256(str(i).encode()).hexdigest()
                key = f"images/{i % 365:03d}/IMG_{i:07d}-{sha[:8]}.jpg"
                when = stamp(now - step * (rows - i))
                uploads.append((i + 1, "bench", key, f"https://bench.example/{key}", sha,
                                100_000 + i % 1000, str(i), f'"{sha[:32].upper()}"',
                                "image/jpeg", f"/srv/drop/cam{i % 8}/IMG_{i:07d}.jpg",
                                f"cam{i % 8}", when, None))
                files.append((f"/srv/drop/cam{i % 8}/IMG_{i:07d}.jpg", f"cam{i % 8}",
                              100_000 + i % 1000, 1_700_000_000_000_000_000 + i, "uploaded",
                              sha, i + 1, when, when))
            conn.executemany("INSERT INTO uploads VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", uploads)
            conn.executemany(
                "INSERT INTO files (path, folder, size, mtime_ns, state, sha256, upload_id, "
                "seen_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?)", files)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def time_lookups(path: Path, rows: int, samples: int) -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    picks = [rng.randrange(rows) for _ in range(samples)]
    results: dict[str, tuple[float, float]] = {}
    with Ledger.open(path, readonly=True) as ledger:
        cases = {
            "url_for(path)": lambda i: ledger.url_for(
                f"/srv/drop/cam{i % 8}/IMG_{i:07d}.jpg"),
            "find(key=)": lambda i: ledger.find(
                key=f"images/{i % 365:03d}/IMG_{i:07d}-"
                    f"{hashlib.sha256(str(i).encode()).hexdigest()[:8]}.jpg"),
            "find(sha256=)": lambda i: ledger.find(
                sha256=hashlib.sha256(str(i).encode()).hexdigest()),
        }
        for name, lookup in cases.items():
            times = []
            for i in picks:
                began = time.perf_counter()
                found = lookup(i)
                times.append((time.perf_counter() - began) * 1000)
                assert found, f"{name} found nothing for row {i}"
            results[name] = percentiles(times)
    return results


def time_command(args: list[str]) -> tuple[float, int]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "ossync", *args], capture_output=True,
                          check=True, timeout=600)
    return time.perf_counter() - began, len(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--keep", type=Path, help="keep the ledger in this folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="ossync-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    ledger = folder / "ledger.db"
    if not ledger.exists():
        began = time.perf_counter()
        fill(ledger, args.rows)
        print(f"filled {args.rows:,} rows in {time.perf_counter() - began:.1f}s "
              f"({ledger.stat().st_size / 1e6:.0f} MB)")
    for name, (p50, p99) in time_lookups(ledger, args.rows, args.samples).items():
        print(f"{name:<16} p50 {p50:.3f} ms   p99 {p99:.3f} ms   (goal p99 <= 5 ms)")
    seconds, size = time_command(["url", "--ledger", str(ledger),
                                  "/srv/drop/cam3/IMG_0000003.jpg"])
    print(f"`ossync url PATH` (whole process) {seconds * 1000:.0f} ms")
    seconds, size = time_command(["ls", "--since", "1d", "--json", "--ledger", str(ledger)])
    print(f"`ossync ls --since 1d --json` {seconds:.2f} s for "
          f"~{args.rows // 30:,} rows ({size / 1e6:.1f} MB of JSON)")
    if not args.keep:
        for leftover in folder.iterdir():
            leftover.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
