"""The small holes: every malformed `/v1/files` value is a 400 with one short reason
(never a 500, never a traceback in the log); only ASCII digits are numbers; a path may
be asked for in its ledger form or its printable form; the Retry button works for a
file name with a newline or bytes that are not UTF-8 (in a real browser); with a token
set, /readyz and /healthz keep their reasons for the token's holders; and the local
endpoint serves an uploaded page or script as a download, never as a page."""

from __future__ import annotations

import base64
import logging
import os
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import alibabacloud_oss_v2 as oss_v2
import pytest
import requests

from ossync.core.credentials import Credentials
from ossync.core.textforms import ledger_text, printable
from ossync.localoss import LocalOSS
from tests.conftest import BUCKET
from tests.daemon_helpers import file_states, jpeg_bytes, wait_for
from tests.http_helpers import TOKEN, headless_chromium, http_daemon, write_token
from tests.oss_sdk import sdk_client

pytestmark = pytest.mark.timeout(150)


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


MALFORMED: list[dict[str, str]] = [
    {"limit": "9" * 5000}, {"limit": "١٢"}, {"limit": "²"}, {"limit": "1e3"}, {"limit": "-1"},
    {"limit": " 5"}, {"limit": "\x1b[31m"},
    {"since": "0000-01-01"}, {"since": "99999-01-01"}, {"since": "0001-01-01"},
    {"until": "9999-12-31T23:59:59.999"}, {"since": "99999999999999d"}, {"since": "1e308d"},
    {"since": "١٢h"}, {"until": "2026-13-01"}, {"since": "\x00"}, {"since": "x" * 5000},
    {"cursor": _cursor("٢٠٢٦-٠١-٠١T٠٠:٠٠:٠٠.٠٠٠Z|1")},
    {"cursor": _cursor("2026-01-01T00:00:00.000Z|١")},
    {"cursor": _cursor("9999-12-31T23:59:59.999Z|0")},
    {"cursor": _cursor("2026-13-01T00:00:00.000Z|0")},
    {"cursor": _cursor("0000-01-01T00:00:00.000Z|0")},
    {"cursor": "%%%"}, {"cursor": "\x07"}, {"cursor": "é" * 100},
    {"expires": "١h"}, {"expires": "9" * 400}, {"expires": "1e400s"}, {"expires": "nan"},
    {"signed": "\x1b"}, {"state": "\x1b[2J"}, {"key": "a\x1b[31mb"}, {"sha256": "١" * 64},
    {"path": "/x", "host": "h\nx"}, {"process": "image/resize,w_1\n"}, {"path": "/a\x00b"},
]


def test_malformed_values_are_400_with_a_short_reason(
        make_config: Callable[..., Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ossync")
    http = {"token_file": str(write_token(tmp_path)), "rate_limit": 0}
    with http_daemon(make_config, http) as run:
        for query in MALFORMED:
            answer = run.get("/v1/files", TOKEN, params=query)
            assert answer.status_code == 400, (query, answer.text)
            error = answer.json()["error"]
            assert len(error) < 160 and "\n" not in error, error
            value = next(iter(query.values()))
            assert value not in error or len(value) < 2, (query, error)
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


ODD = {"new\nline.jpg": jpeg_bytes(3000, seed=11), "caf\udce9.jpg": jpeg_bytes(3100, seed=12),
       "tab\there \\ back.jpg": jpeg_bytes(3200, seed=13)}


@pytest.fixture
def odd_names(make_config: Callable[..., Path], drop: Path, tmp_path: Path) -> Iterator[Any]:
    with http_daemon(make_config, {"token_file": str(write_token(tmp_path))}) as run:
        for name, data in ODD.items():
            (drop / name).write_bytes(data)
        ledger = tmp_path / "ledger.db"
        wait_for(lambda: [s for s, _ in file_states(ledger).values()].count("uploaded")
                 == len(ODD), 30, "uploads")
        yield run


def test_a_path_in_either_written_form(odd_names: Any, drop: Path) -> None:
    for name in ODD:
        path = str(drop / name)
        for form in (ledger_text(path), printable(path)):
            answer = odd_names.get("/v1/files", TOKEN, params={"path": form})
            assert answer.status_code == 200, (form, answer.text)
            assert answer.json()[0]["path"] == ledger_text(path)


def test_the_retry_button_takes_any_file_name(make_config: Callable[..., Path], drop: Path,
                                              tmp_path: Path) -> None:
    """Failed files whose names a browser would change (a newline becomes CR LF in a
    form) or could not encode (a byte that is not UTF-8): each one's button re-queues it."""
    ledger = tmp_path / "ledger.db"
    names = ["new\nline.jpg", "caf\udce9.jpg", "tab\there.jpg"]
    with http_daemon(make_config, max_file_size="200KB") as run, headless_chromium() as b:
        for name in names:
            (drop / name).write_bytes(jpeg_bytes(300_000, seed=len(name)))
        paths = [str(drop / n) for n in names]
        wait_for(lambda: all(file_states(ledger).get(p, ("",))[0] == "failed" for p in paths),
                 30, "failures")
        page = b.new_page()
        for path in paths:
            page.goto(run.base + "/")
            button = page.get_by_role("button", name=f"retry {printable(path)}", exact=True)
            button.click()
            page.wait_for_url(re.compile(r"/\?retried=1$"))  # 0: the path did not match
            assert page.locator(".flash").inner_text() == "Queued for another try."


def test_with_a_token_the_checks_keep_their_reasons(make_config: Callable[..., Path],
                                                    tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    http = {"token_file": str(write_token(tmp_path))}
    with http_daemon(make_config, http, endpoint=dead) as run:
        anyone = run.get("/readyz")
        holder = run.get("/readyz", TOKEN)
    assert anyone.status_code == holder.status_code == 503
    assert anyone.text == "not ready:\n"
    assert holder.text.startswith("not ready:\n- the target has not answered: ")
    assert dead.rsplit(":", 1)[1] not in anyone.text


@pytest.mark.parametrize(("content_type", "body", "attachment"), [
    ("text/html", b"<p>hello</p>", True),
    ("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"></svg>', True),
    ("application/javascript", b"alert(1)", True),
    ("text/xml", b"<a/>", True),
    ("image/jpeg", b"\xef\xbb\xbf  <!DOCTYPE html><script>alert(1)</script>", True),
    ("application/octet-stream", b"<svg onload=alert(1)>", True),
    ("image/jpeg", jpeg_bytes(2000, seed=5), False),
])
def test_the_local_endpoint_serves_pages_as_downloads(local_oss: LocalOSS, creds: Credentials,
                                                      content_type: str, body: bytes,
                                                      attachment: bool) -> None:
    client = sdk_client(local_oss, creds)
    key = f"drop/{os.urandom(4).hex()}"
    client.put_object(oss_v2.PutObjectRequest(bucket=BUCKET, key=key, body=body,
                                              content_type=content_type))
    get = client.presign(oss_v2.GetObjectRequest(bucket=BUCKET, key=key)).url
    head = client.presign(oss_v2.HeadObjectRequest(bucket=BUCKET, key=key)).url
    for answer in (requests.get(get, timeout=10), requests.head(head, timeout=10)):
        assert answer.status_code == 200
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert (answer.headers.get("Content-Disposition") == "attachment") is attachment
