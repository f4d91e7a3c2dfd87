"""The status page in a real browser (headless Chromium through Playwright): thumbnails
load through signed URLs from the local endpoint, a failed file shows its reason, and
pressing its Retry button queues it again in the ledger. Screenshots go to tmp_path.

Skipped where Chromium or Playwright is missing, except under CI=true, where that fails.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from ossync.ledger import Ledger
from tests.daemon_helpers import file_states, wait_for
from tests.http_helpers import TOKEN, headless_chromium, http_daemon, write_token

# Called as a function, not a string that the page's CSP (no eval) would refuse.
LOADED = "() => [...document.images].filter(i => i.complete && i.naturalWidth > 0).length"
COLOURS = {"harbour.jpg": (32, 96, 160), "meadow.jpg": (60, 150, 70),
           "sunset.jpg": (220, 110, 40)}


@pytest.fixture
def browser() -> Iterator[Any]:
    with headless_chromium() as chromium:
        yield chromium


def photo(colour: tuple[int, int, int], label: str) -> bytes:
    """A real JPEG a browser can show: a coloured frame with a few shapes."""
    image = Image.new("RGB", (640, 480), colour)
    draw = ImageDraw.Draw(image)
    draw.ellipse((380, 60, 560, 240), fill=(250, 230, 120))
    draw.rectangle((0, 330, 640, 480), fill=tuple(max(c - 40, 0) for c in colour))
    draw.text((24, 24), label, fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def writer() -> Iterator[Callable[[Path], None]]:
    """Hold a file open for writing in another process: the daemon then waits for it."""
    procs: list[subprocess.Popen[bytes]] = []

    def hold(path: Path) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "import sys, time\n"
                                 "f = open(sys.argv[1], 'ab')\nprint('open', flush=True)\n"
                                 "time.sleep(120)\n", str(path)], stdout=subprocess.PIPE)
        assert proc.stdout is not None and proc.stdout.readline() == b"open\n"
        procs.append(proc)

    yield hold
    for proc in procs:
        proc.kill()
        proc.wait(10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_status_page_in_a_browser(make_config: Callable[..., Path], drop: Path,
                                  tmp_path: Path, browser: Any,
                                  writer: Callable[[Path], None]) -> None:
    ledger = tmp_path / "ledger.db"
    with http_daemon(make_config, max_file_size="200KB") as run:
        for name, colour in COLOURS.items():
            (drop / name).write_bytes(photo(colour, name))
        huge = drop / "panorama.jpg"
        huge.write_bytes(photo((90, 90, 90), "big") + os.urandom(300_000))
        wait_for(lambda: [s for s, _ in file_states(ledger).values()].count("uploaded") == 3
                 and file_states(ledger).get(str(huge), ("",))[0] == "failed", 30, "uploads")

        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.goto(run.base + "/")
        wait_for(lambda: page.evaluate(LOADED) == 3, 15, "three thumbnails shown")
        assert page.title().startswith("ossync")
        assert "ready" in page.locator(".badge").inner_text()
        assert page.locator("h2", has_text="Failures (1)").count() == 1
        failure = page.locator(".failure")
        assert str(huge) in failure.inner_text()
        assert "over max_file_size" in failure.locator(".reason").inner_text()
        names = page.locator(".grid .name").all_inner_texts()
        assert sorted(names) == sorted(COLOURS)
        shot = tmp_path / "status-page.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"\nstatus page screenshot: {shot}")

        writer(huge)  # once queued again, the file waits for its writer: it stays pending
        time.sleep(1.5)  # the daemon's look at open files is at most a second old
        failure.get_by_role("button", name=re.compile("retry")).click()
        page.wait_for_url(re.compile(r"/\?retried=1$"))
        assert page.locator(".flash").inner_text() == "Queued for another try."
        with Ledger.open(ledger, readonly=True) as led:
            row = led.item(str(huge))
        assert row is not None and row.state in ("pending", "uploading")
        assert row.attempts == 0
        wait_for(lambda: file_states(ledger)[str(huge)][0] == "pending", 10, "pending")

        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        phone.goto(run.base + "/")
        wait_for(lambda: phone.evaluate(LOADED) == 3, 15, "thumbnails on the phone")
        assert phone.locator("h2", has_text="Failures").inner_text() == "Failures"
        narrow = tmp_path / "status-page-phone.png"
        phone.screenshot(path=str(narrow), full_page=True)
        print(f"status page on a phone: {narrow}")
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"


def test_the_retry_button_needs_its_csrf_token(make_config: Callable[..., Path]) -> None:
    import requests

    with http_daemon(make_config) as run:
        forged = requests.post(run.base + "/retry", data={"path": "/x", "csrf": "guess"},
                               timeout=10, allow_redirects=False)
        assert forged.status_code == 403
        page = requests.get(run.base + "/", timeout=10).text
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert token is None  # no failures: no forms, and nothing to retry
        other_site = requests.post(run.base + "/retry", data={"path": "/x", "csrf": "x"},
                                   headers={"Origin": "https://attacker.example"}, timeout=10,
                                   allow_redirects=False)
        assert other_site.status_code == 403


def test_signing_in_and_out_in_a_browser(make_config: Callable[..., Path], tmp_path: Path,
                                         browser: Any) -> None:
    """The token typed into the form starts a session (a strict, HttpOnly cookie named
    after the port, never the token); Sign out ends it."""
    with http_daemon(make_config, {"token_file": str(write_token(tmp_path))}) as run:
        context = browser.new_context()
        page = context.new_page()
        page.goto(run.base + "/")
        page.fill("#token", "not the token at all, no")
        page.get_by_role("button", name="Sign in").click()
        assert page.locator(".flash").inner_text() == "That is not the token."
        page.fill("#token", TOKEN)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(run.base + "/")
        assert page.locator("h2", has_text="Folders").count() == 1
        [cookie] = context.cookies()
        port = run.base.rsplit(":", 1)[1]
        assert cookie["name"] == f"ossync_session_{port}" and cookie["value"] != TOKEN
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert page.evaluate("() => document.cookie") == ""  # no script can read it
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(run.base + "/")
        assert page.locator("#token").count() == 1
        assert context.cookies() == []
        context.close()
