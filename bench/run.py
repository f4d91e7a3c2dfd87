"""ossync benchmarks: one entry, a table of figures, and bench/results.json.

    python bench/run.py [--quick] [--only NAME ...]

Every comparison is a ratio measured in the same run on the same machine. Each scenario
is bounded in time; all servers listen on 127.0.0.1 and are stopped at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests
sys.path.insert(0, str(Path(__file__).parent))
from common import (
    BUCKET,
    CREDS,
    ENV,
    DaemonProc,
    jpeg,
    percentile,
    uploaded_count,
    wait_until,
    write_config,
)
from put_cost import put

from ossync.ledger import Ledger, Sighting
from ossync.localoss import LocalOSS
from ossync.targets import UploadResult
from ossync.targets.oss.signing import post_form_fields
from ossync.targets.post_policy import PostUpload
from ossync.upload.prepare import read_facts
from tests.queue_helpers import claim, record

Results = dict[str, Any]


def _files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"IMG_{i:05d}.jpg"
        path.write_bytes(jpeg(size, i))
        paths.append(path)
    return paths


def bare_client(endpoint: str, paths: list[Path], workers: int) -> float:
    """The least possible work: pre-built signed forms, one Session per thread, POST."""
    now = datetime.now(timezone.utc)
    forms = [post_form_fields(CREDS, PostUpload(BUCKET, f"bare/{p.name}", p.stat().st_size,
                                                "image/jpeg"),
                              region="cn-hangzhou", now=now, lifetime=timedelta(minutes=30))
             for p in paths]
    local = threading.local()
    url = f"{endpoint}/{BUCKET}/"

    def send(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        with paths[i].open("rb") as fh:
            resp = session.post(url, data=forms[i], files={"file": ("f", fh, "image/jpeg")},
                                timeout=60)
        resp.raise_for_status()

    began = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, range(len(paths))))
    return time.perf_counter() - began


def where_time_goes(paths: list[Path], work: Path) -> dict[str, float]:
    """Per-file milliseconds of the pipeline's own stages, measured one by one."""
    began = time.perf_counter()
    facts = [read_facts(p) for p in paths]
    hashing = time.perf_counter() - began
    now = datetime.now(timezone.utc)
    began = time.perf_counter()
    for f in facts:
        post_form_fields(CREDS, PostUpload(BUCKET, f"k/{f.path.name}", f.size, "image/jpeg"),
                         region="cn-hangzhou", now=now, lifetime=timedelta(minutes=15))
    signing = time.perf_counter() - began
    began = time.perf_counter()
    with Ledger.open(work / "stage.db") as ledger:
        queue = ledger
        queue.note([Sighting(str(f.path), "b", f.size, f.mtime_ns, 0) for f in facts])
        while (row := claim(queue)) is not None:
            queue.intend(row, sha256=f"{row.id:064x}", key=f"k/{row.id}")
            record(queue, row, UploadResult(f"k/{row.id}", "u", row.size, None, 0),
                                bucket=BUCKET, sha256=f"{row.id:064x}",
                                content_type="image/jpeg", mtime_ns=row.mtime_ns)
    sqlite = time.perf_counter() - began
    n = len(paths)
    return {"hash_ms_per_file": hashing / n * 1000, "sign_ms_per_file": signing / n * 1000,
            "sqlite_ms_per_file": sqlite / n * 1000}


def throughput(work: Path, quick: bool) -> Results:
    count, size, workers = (500 if quick else 2000), 200_000, 4
    with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
        paths = _files(work / "drop", count, size)
        bare = bare_client(server.endpoint, paths, workers)
        cfg = write_config(work / "config.yaml", server.endpoint,
                           [{"path": str(work / "drop"), "label": "drop"}],
                           settle_seconds=0, workers=workers)
        daemon = DaemonProc(cfg, work / "daemon.log")
        try:
            done = wait_until(lambda: uploaded_count(work / "ledger.db") == count, 600, 0.02)
        finally:
            daemon.stop()
        ours = done - daemon.ready_at
    stages = where_time_goes(paths, work)
    return {"files": count, "file_bytes": size, "workers": workers,
            "bare_seconds": round(bare, 2), "ossync_seconds": round(ours, 2),
            "ratio_bare_over_ossync": round(bare / ours, 3),
            "bare_ms_per_file": round(bare / count * 1000, 2),
            **{k: round(v, 3) for k, v in stages.items()}}


def latency(work: Path, quick: bool) -> Results:
    samples, settle = (50 if quick else 200), 0.3
    with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
        drop = work / "drop"
        drop.mkdir()
        cfg = write_config(work / "config.yaml", server.endpoint,
                           [{"path": str(drop), "label": "drop"}], settle_seconds=settle)
        daemon = DaemonProc(cfg, work / "daemon.log")
        reader = sqlite3.connect(f"file:{work / 'ledger.db'}?mode=ro", uri=True)
        delays = []
        try:
            for i in range(samples):
                path = drop / f"one_{i:04d}.jpg"
                with path.open("wb") as fh:
                    fh.write(jpeg(50_000, i))
                closed = time.monotonic()
                done = wait_until(lambda p=str(path): reader.execute(
                    "SELECT 1 FROM files WHERE path = ? AND state = 'uploaded'", (p,)
                ).fetchone(), 30, 0.002)
                delays.append((done - closed - settle) * 1000)
        finally:
            reader.close()
            daemon.stop()
    return {"samples": samples, "settle_seconds": settle,
            "p50_ms_over_settle": round(percentile(delays, 0.5), 1),
            "p99_ms_over_settle": round(percentile(delays, 0.99), 1)}


def idle(work: Path, quick: bool) -> Results:
    folders, seconds = 1000, (15 if quick else 60)
    drop = work / "drop"
    for i in range(folders):
        (drop / f"sub{i:04d}").mkdir(parents=True)
    with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
        cfg = write_config(work / "config.yaml", server.endpoint,
                           [{"path": str(drop), "label": "drop"}])
        daemon = DaemonProc(cfg, work / "daemon.log")
        try:
            time.sleep(3)  # let start-up work finish
            before = daemon.cpu_seconds()
            time.sleep(seconds)
            used = daemon.cpu_seconds() - before
            rss = daemon.rss_mb()
        finally:
            daemon.stop()
    return {"watched_folders": folders, "seconds": seconds, "cpu_seconds": round(used, 3),
            "cpu_percent": round(used / seconds * 100, 3), "rss_mb": round(rss, 1)}


def scale(work: Path, quick: bool) -> Results:
    """A big ledger, a big folder of already-uploaded files: start-up cost and memory."""
    rows, files = (100_000, 20_000) if quick else (1_000_000, 100_000)
    drop = work / "drop"
    drop.mkdir()
    ledger = work / "ledger.db"
    sys.path.insert(0, str(Path(__file__).parent))
    from ledger_lookup import fill, time_lookups

    fill(ledger, rows)
    sightings = []
    for i in range(files):
        path = drop / f"d{i % 100:02d}" / f"old_{i:06d}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"\xff\xd8\xff" + i.to_bytes(4, "big"))
        st = path.stat()
        sightings.append(Sighting(str(path), "drop", st.st_size, st.st_mtime_ns, 0))
    with Ledger.open(ledger) as led:
        queue = led
        queue.note(sightings)
        led.query("UPDATE files SET state = 'uploaded', upload_id = 1 WHERE state = 'pending'")
    with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
        cfg = write_config(work / "config.yaml", server.endpoint,
                           [{"path": str(drop), "label": "drop"}], ledger=str(ledger))
        log = work / "daemon.log"
        proc_args = [sys.executable, "-m", "ossync", "run", "-c", str(cfg), "--log-level",
                     "debug"]
        out = log.open("wb")
        proc = subprocess.Popen(proc_args, stdout=out, stderr=subprocess.STDOUT, env=ENV)
        try:
            wait_until(lambda: b"scanned " in log.read_bytes(), 300, 0.05)
            line = next(x for x in log.read_text().splitlines() if "scanned " in x)
            scan_seconds = float(line.rsplit(",", 1)[1].strip().rstrip("s"))
            rss = int(Path(f"/proc/{proc.pid}/statm").read_text().split()[1]) * os.sysconf(
                "SC_PAGE_SIZE") / 1e6
        finally:
            proc.terminate()
            proc.wait(60)
            out.close()
        objects = len(list(server.app.buckets[BUCKET].snapshot()))
    with Ledger.open(ledger, readonly=True) as led:
        requeued = led.query("SELECT COUNT(*) FROM files WHERE state != 'uploaded'")[0][0]
    lookups = time_lookups(ledger, rows, 1000)
    return {"ledger_rows": rows + files, "files_on_disk": files,
            "catch_up_scan_seconds": scan_seconds, "files_read_or_uploaded": requeued + objects,
            "daemon_rss_mb": round(rss, 1),
            "url_for_p99_ms": round(lookups["url_for(path)"][1], 3)}


def big_file(work: Path, quick: bool) -> Results:
    size = (256 if quick else 2048) * 1024 * 1024
    path = work / "big.jpg"
    with path.open("wb") as fh:  # a sparse file: JPEG header, a hole, the end marker
        fh.write(jpeg(1000, 1)[:-2])
        fh.seek(size - 2)
        fh.write(b"\xff\xd9")
    with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
        cfg = write_config(work / "config.yaml", server.endpoint, [])
        began = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "ossync", "put", "-c", str(cfg),
                                 str(path)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=ENV)
        # VmHWM, sampled until exit: ru_maxrss would also count the pages of this (big)
        # benchmark process that the child shared between fork and exec.
        peak_kb = 0
        while proc.poll() is None:
            try:
                status = Path(f"/proc/{proc.pid}/status").read_text()
                peak_kb = max(peak_kb, next(int(line.split()[1]) for line in
                                            status.splitlines() if line.startswith("VmHWM:")))
            except (OSError, StopIteration):
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        assert proc.returncode == 0, proc.returncode
    return {"file_mb": size // 1024 // 1024, "seconds": round(seconds, 1),
            "mb_per_second": round(size / 1e6 / seconds, 1),
            "peak_rss_mb": round(peak_kb / 1000, 1)}


def _moto() -> tuple[Any, str]:
    import logging

    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench-secret")
    for bucket in ("rclone-bench", "ossync-post", "ossync-put"):
        client.create_bucket(Bucket=bucket)
    return server, endpoint


def rclone(work: Path, quick: bool) -> Results:
    """`rclone copy --transfers N` versus `ossync put` (s3 target) to the same moto server."""
    if not shutil.which("rclone"):
        return {"skipped": "rclone is not installed (apt-get install rclone)"}
    count, workers = (300 if quick else 2000), 4
    paths = _files(work / "src", count, 200_000)
    server, endpoint = _moto()
    try:
        env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        env.update({"RCLONE_CONFIG_M_TYPE": "s3", "RCLONE_CONFIG_M_PROVIDER": "Other",
                    "RCLONE_CONFIG_M_ENDPOINT": endpoint, "RCLONE_CONFIG_M_REGION": "us-east-1",
                    "RCLONE_CONFIG_M_ACCESS_KEY_ID": "bench",
                    "RCLONE_CONFIG_M_SECRET_ACCESS_KEY": "bench-secret"})
        began = time.perf_counter()
        subprocess.run(["rclone", "copy", "--transfers", str(workers), str(work / "src"),
                        "m:rclone-bench/images"], check=True, env=env, timeout=900,
                       capture_output=True)
        rclone_seconds = time.perf_counter() - began
        seconds = {method: _ossync_put_s3(work, endpoint, method, paths, workers, env)
                   for method in ("post", "put")}
    finally:
        server.stop()
    return {"files": count, "transfers": workers, "rclone_seconds": round(rclone_seconds, 2),
            "ossync_s3_post_seconds": round(seconds["post"], 2),
            "ossync_s3_put_seconds": round(seconds["put"], 2),
            "ratio_rclone_over_ossync_post": round(rclone_seconds / seconds["post"], 2),
            "ratio_rclone_over_ossync": round(rclone_seconds / seconds["put"], 2)}


def _ossync_put_s3(work: Path, endpoint: str, method: str, paths: list[Path], workers: int,
                   env: dict[str, str]) -> float:
    """`ossync put` of every file to moto with the s3 target's POST or PUT method."""
    import yaml

    cfg = work / f"config-{method}.yaml"
    cfg.write_text(yaml.safe_dump({
        "s3": {"endpoint": endpoint, "region": "us-east-1", "bucket": f"ossync-{method}",
               "addressing": "path", "method": method, "access_key_id": "bench",
               "secret_access_key": "bench-secret"},
        "ledger": str(work / f"ledger-{method}.db"), "workers": workers,
        "date_source": "mtime"}))
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ossync", "put", "-c", str(cfg), *map(str, paths)],
                   check=True, env=env, timeout=900, capture_output=True)
    return time.perf_counter() - began


SCENARIOS: dict[str, Callable[[Path, bool], Results]] = {
    "throughput": throughput, "latency": latency, "idle": idle, "scale": scale,
    "big_file": big_file, "rclone": rclone, "put": put,
}
Goal = tuple[str, str, float]
GOALS: dict[str, list[Goal]] = {
    "throughput": [("ratio_bare_over_ossync", ">=", 0.9)],
    "latency": [("p99_ms_over_settle", "<=", 250)],
    "idle": [("cpu_percent", "<=", 0.2)],
    "scale": [("catch_up_scan_seconds", "<=", 10)],
    "big_file": [("peak_rss_mb", "<=", 100)],
    "rclone": [("ratio_rclone_over_ossync", ">=", 1.0)],
    "put": [("cpu_ratio_ossync_over_bare", "<=", 1.2),
            ("throughput_ratio_ossync_over_bare", ">=", 0.95)],
}


def verdict(results: Results, goals: list[Goal]) -> str | None:
    """"key op goal: met" for each goal, joined; None when a key is missing (skipped)."""
    if any(key not in results for key, _, _ in goals):
        return None
    said = []
    for key, op, goal in goals:
        value = results[key]
        met = value >= goal if op == ">=" else value <= goal
        said.append(f"{key} {op} {goal}: {'met' if met else 'NOT met'}")
    return "; ".join(said)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, under 5 minutes")
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), default=None)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    results: dict[str, Results] = {}
    for name in args.only or list(SCENARIOS):
        work = Path(tempfile.mkdtemp(prefix=f"ossync-bench-{name}-"))
        began = time.perf_counter()
        try:
            results[name] = SCENARIOS[name](work, args.quick)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        results[name]["scenario_seconds"] = round(time.perf_counter() - began, 1)
        said = verdict(results[name], GOALS[name])
        if said is None:
            print(f"{name:<11} {results[name]}", flush=True)
            continue
        results[name]["goal"] = said
        print(f"{name:<11} " + "  ".join(f"{k}={v}" for k, v in results[name].items()),
              flush=True)
    args.out.write_text(json.dumps({"quick": args.quick, "results": results}, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
