"""The upload page in headless Chromium (Playwright, the system's browser): signed in with
the status page's form, nine photos picked in Uppy's Dashboard go straight to the local
endpoint through a bucket CORS rule, each with a form the page asked for, and are
confirmed: nine objects byte for byte, nine ledger rows, and the secret in neither the
page nor any request or answer the browser saw. Skipped without Chromium or Playwright
(a failure under CI=true)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from ossync.localoss import LocalOSS
from ossync.localoss.cors import parse_rules
from tests.conftest import BUCKET, SECRET
from tests.direct_helpers import UPLOAD_TOKEN, photo, upload_daemon
from tests.faults import FaultPlan, FaultProxy, Rule
from tests.http_helpers import TOKEN, headless_chromium

PHOTOS = 9
CORS = """<CORSConfiguration><CORSRule><AllowedOrigin>{origin}</AllowedOrigin>
<AllowedMethod>POST</AllowedMethod><AllowedHeader>*</AllowedHeader>
<ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-oss-request-id</ExposeHeader>
<MaxAgeSeconds>600</MaxAgeSeconds></CORSRule></CORSConfiguration>"""


class Traffic:
    """Everything the browser sent and received, as text to search."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def request(self, req: Any) -> None:
        body = req.post_data_buffer or b""
        self.seen.append(f"{req.method} {req.url} {req.headers} "
                         + body.decode("utf-8", "replace"))

    def response(self, resp: Any) -> None:
        try:
            body = resp.body().decode("utf-8", "replace")
        except Exception:  # a redirect or an aborted answer has no body to read
            body = ""
        self.seen.append(f"{resp.status} {resp.url} {resp.headers} {body}")


def open_upload_page(page: Any, base: str) -> None:
    """Sign in with the status page's form, then follow its link to the upload page."""
    page.goto(base + "/")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("a[href='/upload']", timeout=10_000)
    page.click("a[href='/upload']")
    page.wait_for_selector(".uppy-Dashboard-input", state="attached", timeout=10_000)


def _photos(folder: Path, count: int) -> tuple[list[bytes], list[str]]:
    photos = [photo(n, 40_000 + n) for n in range(count)]
    paths = []
    for n, data in enumerate(photos):
        path = folder / f"IMG_{n:04d}.jpg"
        path.write_bytes(data)
        paths.append(str(path))
    return photos, paths


@pytest.mark.slow
def test_nine_photos_from_the_upload_page(make_config: Callable[..., Path], tmp_path: Path,
                                          local_oss: LocalOSS) -> None:
    photos, paths = _photos(tmp_path, PHOTOS)
    with upload_daemon(make_config, tmp_path) as running, headless_chromium() as browser:
        local_oss.app.cors[BUCKET].put(parse_rules(CORS.format(origin=running.base).encode()))
        assert requests.get(running.base + "/upload", timeout=10).status_code == 401
        traffic = Traffic()
        context = browser.new_context()
        try:
            page = context.new_page()
            page.on("request", traffic.request)
            page.on("response", traffic.response)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            open_upload_page(page, running.base)
            page.set_input_files(".uppy-Dashboard-input >> nth=0", paths)
            page.locator("#uploaded li").nth(PHOTOS - 1).wait_for(timeout=60_000)
            assert page.inner_text("#progress") == f"uploaded {PHOTOS}/{PHOTOS}"
            html = page.content()
            (tmp_path / "upload-page.png").write_bytes(page.screenshot(full_page=True))
        finally:
            context.close()
        assert errors == [], errors
        keys = sorted(running.daemon.ledger.iter_items(folder="app"), key=lambda i: i.path)
        assert len(keys) == PHOTOS and all(i.state == "uploaded" for i in keys)
        bucket = local_oss.app.buckets[BUCKET]
        stored = set()
        for item in keys:
            assert item.key is not None
            found = bucket.open(item.key)
            assert found is not None
            with found[1] as fh:
                stored.add(fh.read())
        assert stored == set(photos)
        everything = html + "\n".join(traffic.seen)
        assert "x-oss-signature" in everything  # the forms were seen...
        for secret in (SECRET, UPLOAD_TOKEN):
            assert secret not in everything  # ...and neither the secret nor a token


@pytest.mark.slow
def test_a_failed_photo_is_retried(make_config: Callable[..., Path], tmp_path: Path,
                                   local_oss: LocalOSS) -> None:
    """The store fails the first POST (a 500 from a proxy in front of it): the page shows
    1/2, Uppy's retry sends that photo again with a fresh form, and the page shows 2/2."""
    photos, paths = _photos(tmp_path, 2)
    plan = FaultPlan(rules=[Rule("POST", "", "error", times=1)])
    with FaultProxy(local_oss.endpoint, plan) as proxy, \
            upload_daemon(make_config, tmp_path, endpoint=proxy.endpoint) as running, \
            headless_chromium() as browser:
        local_oss.app.cors[BUCKET].put(parse_rules(CORS.format(origin=running.base).encode()))
        context = browser.new_context()
        try:
            page = context.new_page()
            open_upload_page(page, running.base)
            page.set_input_files(".uppy-Dashboard-input >> nth=0", paths)
            page.locator(".uppy-StatusBar-actionBtn--retry").wait_for(timeout=30_000)
            page.locator("#uploaded li").nth(0).wait_for(timeout=30_000)  # the other one
            assert page.inner_text("#progress") == "uploaded 1/2"
            page.click(".uppy-StatusBar-actionBtn--retry")
            page.locator("#uploaded li").nth(1).wait_for(timeout=30_000)
            assert page.inner_text("#progress") == "uploaded 2/2"
        finally:
            context.close()
        assert proxy.counts["error"] == 1
        items = list(running.daemon.ledger.iter_items(folder="app"))
        assert len(items) == 2
        stored = set()
        for item in items:
            assert item.key is not None
            found = local_oss.app.buckets[BUCKET].open(item.key)
            assert found is not None
            with found[1] as fh:
                stored.add(fh.read())
        assert stored == set(photos)
