"""The `put` scenario: what `ossync put` costs the client next to a bare client.

Both clients run as subprocesses against a LocalOSS in this process (its CPU is not
theirs), and each is measured the same way: CPU from the child's rusage (user + sys,
`os.wait4`), wall time from spawn to exit. A fresh endpoint (and for ossync a fresh
SQLite ledger) each run; the clients alternate, and which goes first swaps every
round, since the machine is shared and noisy. Medians are reported, with the spread.

Both run with compiled bytecode kept (under the work folder), as an installed ossync
has it (pip compiles at install) and after one untimed run of each: with
PYTHONDONTWRITEBYTECODE, as this checkout's environment sets, every start would compile
ossync's hundred-odd modules again (~65 ms of CPU; the bare client's few, ~17 ms).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import BUCKET, CREDS, ENV, camera_jpeg, write_config

from ossync.localoss import LocalOSS

HERE = Path(__file__).parent


def files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(camera_jpeg(size, i))
        paths.append(path)
    return paths


def bytecode_env(work: Path) -> dict[str, str]:
    env = {k: v for k, v in ENV.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    return env


def measure(cmd: list[str], log: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one child process run to its end."""
    with log.open("wb") as err:
        began = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                                env=bytecode_env(log.parent))
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - began
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[:4]} exited {proc.returncode}: {log.read_text()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall


def bare_command(endpoint: str, paths: list[Path], workers: int) -> list[str]:
    return [sys.executable, str(HERE / "bare_put.py"), endpoint, str(workers), "bare/",
            *map(str, paths)]


def ossync_command(work: Path, endpoint: str, paths: list[Path], workers: int) -> list[str]:
    """`ossync put` with the defaults a user gets (EXIF dates), a fresh ledger."""
    ledger = work / "ledger.db"
    for stale in work.glob("ledger.db*"):
        stale.unlink()
    cfg = write_config(work / "config.yaml", endpoint, [], workers=workers,
                       date_source="exif", ledger=str(ledger))
    return [sys.executable, "-m", "ossync", "put", "-c", str(cfg), *map(str, paths)]


def one_run(work: Path, which: str, paths: list[Path], workers: int) -> tuple[float, float]:
    root = work / "oss"
    with LocalOSS(root, [BUCKET], CREDS) as server:
        cmd = (bare_command(server.endpoint, paths, workers) if which == "bare" else
               ossync_command(work, server.endpoint, paths, workers))
        result = measure(cmd, work / f"{which}.log")
        stored = len(list(server.app.buckets[BUCKET].snapshot()))
    shutil.rmtree(root)
    if stored != len(paths):
        raise RuntimeError(f"{which}: {stored} objects stored of {len(paths)}")
    return result


def spread(values: list[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3)}


def put(work: Path, quick: bool) -> dict[str, Any]:
    count, size, workers, rounds = (300 if quick else 1000), 200_000, 4, (3 if quick else 5)
    paths = files(work / "src", count, size)
    for which in ("bare", "ossync"):  # untimed: compiles and keeps both clients' bytecode
        one_run(work, which, paths[:1], workers)
    runs: dict[str, list[tuple[float, float]]] = {"bare": [], "ossync": []}
    for i in range(rounds):
        for which in (("bare", "ossync") if i % 2 == 0 else ("ossync", "bare")):
            runs[which].append(one_run(work, which, paths, workers))
    cpu = {k: [c for c, _ in v] for k, v in runs.items()}
    wall = {k: [w for _, w in v] for k, v in runs.items()}
    cpu_ratios = [o / b for o, b in zip(cpu["ossync"], cpu["bare"], strict=True)]
    wall_ratios = [b / o for o, b in zip(wall["ossync"], wall["bare"], strict=True)]
    return {
        "files": count, "file_bytes": size, "workers": workers, "rounds": rounds,
        "cpu_ratio_ossync_over_bare": round(
            statistics.median(cpu["ossync"]) / statistics.median(cpu["bare"]), 3),
        "throughput_ratio_ossync_over_bare": round(
            statistics.median(wall["bare"]) / statistics.median(wall["ossync"]), 3),
        "bare_cpu_seconds": spread(cpu["bare"]), "ossync_cpu_seconds": spread(cpu["ossync"]),
        "bare_wall_seconds": spread(wall["bare"]),
        "ossync_wall_seconds": spread(wall["ossync"]),
        "cpu_ratio_per_round": spread(cpu_ratios),
        "throughput_ratio_per_round": spread(wall_ratios),
    }
