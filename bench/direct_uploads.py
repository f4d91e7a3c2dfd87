"""What issuing direct-upload forms costs: `POST /v1/uploads` from 8 keep-alive clients
against a real `ossync run` subprocess (SQLite ledger; each answer writes its forms down
first), one file a request and nine a request (a phone's "up to nine photos").

    python bench/direct_uploads.py [--seconds 10] [--clients 8]

Goal (#25): at least 500 forms issued a second with 8 clients, p99 at most 20 ms, on
2 cores. Everything listens on 127.0.0.1; every loop is bounded in time.
"""

from __future__ import annotations

import argparse
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import BUCKET, CREDS, DaemonProc, keep_alive_load

from ossync.localoss import LocalOSS

WARM_UP = 1.0


def _config(work: Path, endpoint: str, token: str) -> Path:
    tokens = work / "upload_tokens"
    tokens.write_text(token + "\n")
    tokens.chmod(0o600)
    drop = work / "drop"
    drop.mkdir(exist_ok=True)
    doc: dict[str, Any] = {
        "oss": {"endpoint": endpoint, "region": "cn-hangzhou", "bucket": BUCKET},
        "ledger": str(work / "ledger.db"), "watch": [{"path": str(drop), "label": "drop"}],
        "http": {"listen": "127.0.0.1:0", "rate_limit": 0, "require_token": "never"},
        "uploads": {"token_file": str(tokens)}}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def load(url: str, token: str, files: int, seconds: float, clients: int) -> dict[str, float]:
    """Requests and forms a second, and latency, from `clients` keep-alive threads
    (`files` 0: GET `url`, the listener's own floor on this machine)."""
    body = {"files": [{"name": f"IMG_{i:04d}.JPG", "size": 3_000_000, "type": "image/jpeg"}
                      for i in range(files)]}
    headers = {"Authorization": f"Bearer {token}"}

    def send(session: requests.Session) -> requests.Response:
        if not files:
            return session.get(url, timeout=10)
        return session.post(url, json=body, headers=headers, timeout=10)

    figures = keep_alive_load(send, seconds, clients)
    figures["forms_per_second"] = figures["per_second"] * files
    return figures


def run(seconds: float, clients: int) -> dict[str, dict[str, float]]:
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="ossync-bench-direct-") as tmp:
        work = Path(tmp)
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            config = _config(work, server.endpoint, token)
            daemon = DaemonProc(config, work / "daemon.log")
            try:
                time.sleep(WARM_UP)
                found = re.search(r"HTTP listener on (http://\S+) ",
                                  (work / "daemon.log").read_text(errors="replace"))
                if not found:
                    raise RuntimeError("the daemon logged no listener line")
                base = found.group(1)
                rows = {"GET /healthz (floor)": load(base + "/healthz", token, 0, seconds,
                                                     clients)}
                rows.update({f"{n} file(s) a request": load(base + "/v1/uploads", token, n,
                                                            seconds, clients)
                             for n in (1, 9)})
                return rows
            finally:
                daemon.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per load test")
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    rows = run(args.seconds, args.clients)
    print(f"POST /v1/uploads, {args.clients} keep-alive clients, {args.seconds:.0f}s each "
          "(goal: >= 500 forms/s, p99 <= 20 ms)")
    print(f"  {'':24} {'req/s':>8} {'forms/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for name, row in rows.items():
        print(f"  {name:24} {row['per_second']:8.0f} {row['forms_per_second']:8.0f} "
              f"{row['p50_ms']:8.2f} {row['p99_ms']:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
