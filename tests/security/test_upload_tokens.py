"""Upload tokens (`uploads.token_file`) ask for forms and nothing else; the listener's
token does not ask for forms; every token is compared in constant time; a client is
rate-limited; the secret is in no answer; and a callback's public key is fetched only
from Alibaba's documented place (or the local endpoint, with a loopback test config)."""

from __future__ import annotations

import base64
import inspect
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

import ossync.http.guard as guard
from ossync.http.upload_callback import Forged, KeyCache, key_fetch_url
from tests.conftest import SECRET
from tests.direct_helpers import OTHER_UPLOAD_TOKEN, UPLOAD_TOKEN, ask, done, upload_daemon
from tests.http_helpers import TOKEN

FILE = {"name": "a.jpg", "size": 10, "type": "image/jpeg"}


def test_an_upload_token_asks_for_forms_and_nothing_else(make_config: Callable[..., Path],
                                                         tmp_path: Path) -> None:
    with upload_daemon(make_config, tmp_path) as running:
        assert ask(running, [FILE]).status_code == 200
        assert ask(running, [FILE], token=OTHER_UPLOAD_TOKEN).status_code == 200
        for path in ("/v1/files", "/metrics", "/v1/events"):
            assert running.get(path, UPLOAD_TOKEN).status_code == 401, path
        assert running.get("/", UPLOAD_TOKEN).status_code == 401
        assert running.get("/v1/files", TOKEN).status_code == 200
        for token in (None, TOKEN, UPLOAD_TOKEN[:-1], UPLOAD_TOKEN + "x", ""):
            refused = ask(running, [FILE], token=token)
            assert refused.status_code == 401, token
            assert "WWW-Authenticate" in refused.headers
        assert done(running, "0" * 24, token=TOKEN).status_code == 401
        answer = ask(running, [FILE])
        assert SECRET not in answer.text and TOKEN not in answer.text
        assert running.get("/v1/uploads", UPLOAD_TOKEN).status_code == 405


def test_tokens_are_compared_in_constant_time() -> None:
    """Every token is compared (no early exit), each as digests of equal length."""
    source = inspect.getsource(guard.one_of)
    assert "_same(given, token)" in source and "return" not in source.split("for")[1][:60]
    assert guard.one_of(UPLOAD_TOKEN, (OTHER_UPLOAD_TOKEN, UPLOAD_TOKEN))
    assert not guard.one_of(UPLOAD_TOKEN[:8], (UPLOAD_TOKEN,))
    assert not guard.one_of("", ("",))


def test_a_client_is_rate_limited(make_config: Callable[..., Path], tmp_path: Path) -> None:
    with upload_daemon(make_config, tmp_path,
                       http={"rate_limit": 0.1, "rate_burst": 4}) as running:
        codes = [ask(running, [FILE]).status_code for _ in range(8)]
        assert codes[:3] == [200, 200, 200] and 429 in codes, codes
        assert ask(running, [FILE], token="wrong-" * 6).status_code == 429  # guessing too


@pytest.mark.parametrize("url", [
    "http://gosspublic.alicdn.com/callback_pub_key_v1.pem",
    "https://gosspublic.alicdn.com/callback_pub_key_v1.pem"])
def test_alibabas_key_is_fetched_over_https(url: str) -> None:
    assert key_fetch_url(url, None) == "https://gosspublic.alicdn.com/callback_pub_key_v1.pem"


@pytest.mark.parametrize("url", [
    "https://gosspublic.alicdn.com.evil.example/k.pem", "https://evil.example/k.pem",
    "https://user@gosspublic.alicdn.com/k.pem", "https://gosspublic.alicdn.com:8443/k.pem",
    "https://gosspublic.alicdn.com/../k.pem", "https://gosspublic.alicdn.com/k.pem?x=1",
    "ftp://gosspublic.alicdn.com/k.pem", "http://127.0.0.1:9/_localoss/k.pem",
    "http://127.0.0.1:9/_localoss/../k.pem"])
def test_other_key_urls_are_refused(url: str) -> None:
    with pytest.raises(Forged):
        key_fetch_url(url, "http://127.0.0.1:9/_localoss/" if "_localoss/.." in url else None)


def test_the_local_key_only_with_a_test_config() -> None:
    local = "http://127.0.0.1:9/_localoss/callback_pub_key.pem"
    assert key_fetch_url(local, "http://127.0.0.1:9/_localoss/") == local
    fetched: list[str] = []
    cache = KeyCache(None, fetch=lambda u: fetched.append(u) or b"")
    with pytest.raises(Forged):
        cache.key(base64.b64encode(local.encode()).decode())
    with pytest.raises(Forged):
        cache.key("not base64!")
    assert fetched == []


def test_the_upload_page_asks_with_its_session_and_csrf_only(
        make_config: Callable[..., Path], tmp_path: Path) -> None:
    """The page's own requests need its sign-in session, its CSRF token and its origin;
    the page holds neither a key nor a token."""
    with upload_daemon(make_config, tmp_path) as running:
        browser = requests.Session()
        signed_in = browser.post(running.base + "/login", data={"token": TOKEN}, timeout=10,
                                 allow_redirects=False, headers={"Origin": running.base})
        assert signed_in.status_code == 303
        page = browser.get(running.base + "/upload", timeout=10)
        assert page.status_code == 200 and "script-src 'self'" in page.headers[
            "Content-Security-Policy"]
        assert TOKEN not in page.text and UPLOAD_TOKEN not in page.text
        assert SECRET not in page.text
        found = re.search(r'data-csrf="([0-9a-f]+)"', page.text)
        assert found
        csrf = found.group(1)
        url = running.base + "/v1/uploads"
        body = {"files": [FILE]}
        same = {"Origin": running.base}
        assert browser.post(url, json=body, timeout=10,
                            headers={**same, "X-CSRF-Token": csrf}).status_code == 200
        for headers in ({**same}, {**same, "X-CSRF-Token": "0" * 64},
                        {"Origin": "https://evil.example", "X-CSRF-Token": csrf}):
            assert browser.post(url, json=body, timeout=10, headers=headers
                                ).status_code == 401, headers
        stranger = requests.post(url, json=body, timeout=10,
                                 headers={**same, "X-CSRF-Token": csrf})
        assert stranger.status_code == 401  # the CSRF token without the session
        for path in ("/static/upload.js", "/static/uppy/uppy.min.js"):
            script = requests.get(running.base + path, timeout=10)
            assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]


def test_a_callback_may_be_signed_over_the_public_path() -> None:
    """Behind a proxy that moves the listener, OSS signs the callback URL's own path."""
    from ossync.config import UploadsConfig
    from ossync.http.direct import callback_paths
    from ossync.http.wsgi import Request

    req = Request("POST", "/v1/uploads/callback", {}, "10.0.0.1", "ossync:8080")
    public = UploadsConfig(callback_url="https://up.example.com/photos%20x/v1/uploads/callback")
    assert callback_paths(public, req) == [b"/v1/uploads/callback",
                                           b"/photos x/v1/uploads/callback"]
    same = UploadsConfig(callback_url="https://up.example.com/v1/uploads/callback")
    assert callback_paths(same, req) == [b"/v1/uploads/callback"]
