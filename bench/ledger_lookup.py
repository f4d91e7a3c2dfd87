"""Ledger look-up speed at scale: fill a ledger with N uploads (default 1,000,000), then time
`url_for(path)`, `find(key=)`, `find(sha256=)` (p50/p99 over random samples) and the
`ossync ls --since 1d --json` command end to end.

    python bench/ledger_lookup.py [--rows 1000000] [--samples 2000] [--keep DIR]

Rows go in through the ledger's bulk insert (the daemon would take hours to upload a
million files); the queries are the ones the CLI and the Python API run. `bench/fleet.py`
runs the same look-ups against PostgreSQL.
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

from ossync.ledger import FileRow, Ledger, Upload, stamp


def fill(location: Path | str, rows: int, days: int = 30, host: str = "bench-host") -> None:
    """N uploads spread evenly over the last `days` days, one path each, written through
    the ledger contract's bulk insert (`copy_in`), so any backend can be filled."""
    now = datetime.now(timezone.utc)
    step = timedelta(days=days) / rows
    with Ledger.open(location, host=host) as ledger:
        for start in range(0, rows, 50_000):
            uploads, files = [], []
            for i in range(start, min(start + 50_000, rows)):
                sha = hashlib.sha256(str(i).encode()).hexdigest()
                key = f"images/{i % 365:03d}/IMG_{i:07d}-{sha[:8]}.jpg"
                when = stamp(now - step * (rows - i))
                path, folder = f"/srv/drop/cam{i % 8}/IMG_{i:07d}.jpg", f"cam{i % 8}"
                uploads.append(Upload(i + 1, "bench", key, f"https://bench.example/{key}", sha,
                                      100_000 + i % 1000, str(i), f'"{sha[:32].upper()}"',
                                      "image/jpeg", path, folder, when, None, host))
                files.append(FileRow(i + 1, path, folder, 100_000 + i % 1000,
                                     1_700_000_000_000_000_000 + i, "uploaded", 0, 0.0, None,
                                     sha, None, i + 1, when, when, host))
            ledger.copy_in(uploads, files)
        ledger.refresh_statistics()  # as `ossync ledger copy` does after a bulk load


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(len(ordered) * 0.99) - 1]


def time_lookups(location: Path | str, rows: int, samples: int,
                 host: str = "bench-host") -> dict[str, tuple[float, float]]:
    rng = random.Random(7)
    picks = [rng.randrange(rows) for _ in range(samples)]
    results: dict[str, tuple[float, float]] = {}
    with Ledger.open(location, readonly=True, host=host) as ledger:
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
