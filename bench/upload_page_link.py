"""Nine 3 MB photos from the upload page (Uppy in headless Chromium) straight to the local
endpoint through the emulated WAN link (tests/link.py: 40 ms round trip, 100 Mbit/s each
way), against a bare client through the same link: pre-signed forms, the same three
uploads at a time as the page.

    python bench/upload_page_link.py [--photos 9] [--size 3000000] [--runs 3]

Goal (#25): the page reaches at least 0.9 of the link. The daemon is a real `ossync run`
subprocess; the browser is the system's Chromium through Playwright; everything listens
on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import re
import secrets
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests
import yaml

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from common import BUCKET, CREDS, DaemonProc, jpeg

from ossync.localoss import LocalOSS
from ossync.localoss.cors import parse_rules
from ossync.targets.oss.signing import post_form_fields
from ossync.targets.post_policy import PostUpload
from tests.http_helpers import headless_chromium
from tests.link import Link

RATE = 12.5e6  # bytes a second: 100 Mbit/s
RTT = 0.04
AT_ONCE = 3  # the page's @uppy/aws-s3 `limit`
CORS = ("<CORSConfiguration><CORSRule><AllowedOrigin>{origin}</AllowedOrigin>"
        "<AllowedMethod>POST</AllowedMethod><AllowedHeader>*</AllowedHeader>"
        "<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>600</MaxAgeSeconds></CORSRule>"
        "</CORSConfiguration>")


def _config(work: Path, endpoint: str, token: str) -> Path:
    for name, value in (("http_token", token), ("upload_tokens", secrets.token_urlsafe(32))):
        (work / name).write_text(value + "\n")
        (work / name).chmod(0o600)
    (work / "drop").mkdir(exist_ok=True)
    doc: dict[str, Any] = {
        "oss": {"endpoint": endpoint, "region": "cn-hangzhou", "bucket": BUCKET},
        "ledger": str(work / "ledger.db"), "watch": [{"path": str(work / "drop")}],
        "http": {"listen": "127.0.0.1:0", "token_file": str(work / "http_token")},
        "uploads": {"token_file": str(work / "upload_tokens")}}
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def bare(endpoint: str, photos: list[Path]) -> float:
    """Seconds for a client that only POSTs pre-signed forms, `AT_ONCE` at a time."""
    now = datetime.now(timezone.utc)
    forms = [post_form_fields(CREDS, PostUpload(BUCKET, f"bare/{time.monotonic_ns()}-{p.name}",
                                                p.stat().st_size, "image/jpeg"),
                              region="cn-hangzhou", now=now, lifetime=timedelta(minutes=15))
             for p in photos]

    def send(i: int) -> None:
        with photos[i].open("rb") as fh:
            requests.post(f"{endpoint}/{BUCKET}/", data=forms[i], timeout=120,
                          files={"file": (photos[i].name, fh, "image/jpeg")}
                          ).raise_for_status()

    began = time.monotonic()
    with ThreadPoolExecutor(AT_ONCE) as pool:
        list(pool.map(send, range(len(photos))))
    return time.monotonic() - began


def page_run(browser: Any, base: str, token: str, photos: list[Path]) -> float:
    """Seconds from picking the photos on the page to "uploaded n/n" (each confirmed)."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(base + "/")
        page.fill("#token", token)
        page.click("button[type=submit]")
        page.goto(base + "/upload")
        page.wait_for_selector(".uppy-Dashboard-input", state="attached", timeout=10_000)
        began = time.monotonic()
        page.set_input_files(".uppy-Dashboard-input >> nth=0", [str(p) for p in photos])
        page.locator("#uploaded li").nth(len(photos) - 1).wait_for(timeout=300_000)
        return time.monotonic() - began
    finally:
        context.close()


def run(count: int, size: int, runs: int) -> dict[str, float]:
    token = secrets.token_urlsafe(32)
    with tempfile.TemporaryDirectory(prefix="ossync-bench-page-") as tmp:
        work = Path(tmp)
        with LocalOSS(work / "oss", [BUCKET], CREDS) as server:
            host, port = server.endpoint.removeprefix("http://").rsplit(":", 1)
            link = Link((host, int(port)), rtt=RTT, rate_up=RATE, rate_down=RATE).start()
            daemon = DaemonProc(_config(work, link.endpoint, token), work / "daemon.log")
            try:
                found = re.search(r"HTTP listener on (http://\S+) ",
                                  (work / "daemon.log").read_text(errors="replace"))
                if not found:
                    raise RuntimeError("the daemon logged no listener line")
                base = found.group(1)
                server.app.cors[BUCKET].put(parse_rules(CORS.format(origin=base).encode()))
                bare_s, page_s = [], []
                with headless_chromium() as browser:
                    for n in range(runs):
                        photos = []
                        for i in range(count):
                            path = work / f"run{n}" / f"IMG_{i:04d}.jpg"
                            path.parent.mkdir(exist_ok=True)
                            path.write_bytes(jpeg(size, n * 100 + i))
                            photos.append(path)
                        bare_s.append(bare(link.endpoint, photos))
                        page_s.append(page_run(browser, base, token, photos))
            finally:
                daemon.stop()
                link.stop()
    total = count * size
    bare_med, page_med = statistics.median(bare_s), statistics.median(page_s)
    return {"bare_seconds": bare_med, "page_seconds": page_med,
            "bare_of_link": total / bare_med / RATE, "page_of_link": total / page_med / RATE,
            "page_over_bare": bare_med / page_med}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=9)
    parser.add_argument("--size", type=int, default=3_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    row = run(args.photos, args.size, args.runs)
    print(f"{args.photos} x {args.size / 1e6:.1f} MB through {RTT * 1000:.0f} ms / "
          f"{RATE * 8 / 1e6:.0f} Mbit/s, {AT_ONCE} at a time, median of {args.runs} "
          "(goal: the page >= 0.9 of the link)")
    print(f"  bare client   {row['bare_seconds']:6.2f} s   {row['bare_of_link']:.3f} of the link")
    print(f"  upload page   {row['page_seconds']:6.2f} s   {row['page_of_link']:.3f} of the link"
          f"   ({row['page_over_bare']:.3f} of the bare client)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
