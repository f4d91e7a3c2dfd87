"""The bare client of the `put` benchmark, in a process of its own so that its CPU is
measured the way `ossync put`'s is: the least work that uploads the same files.

    python bench/bare_put.py ENDPOINT WORKERS PREFIX FILE...

Signed forms built up front (`post_form_fields`), one requests.Session per thread
(keep-alive), WORKERS threads, one POST per file; exits 1 on the first refusal.
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).parent))
from common import BUCKET, CREDS

from ossync.targets.oss.signing import post_form_fields
from ossync.targets.post_policy import PostUpload


def upload_all(endpoint: str, paths: list[Path], workers: int, prefix: str) -> None:
    now = datetime.now(timezone.utc)
    forms = [post_form_fields(CREDS, PostUpload(BUCKET, f"{prefix}{p.name}", p.stat().st_size,
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

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(send, range(len(paths))))


def main(argv: list[str]) -> int:
    endpoint, workers, prefix, *files = argv
    upload_all(endpoint, [Path(f) for f in files], int(workers), prefix)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
