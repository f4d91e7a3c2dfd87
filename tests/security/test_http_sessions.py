"""Status page sessions are not the token: a random id per sign-in, kept by the daemon,
ended by signing out (a CSRF-guarded POST) or by `http.session_lifetime`; its cookie is
HttpOnly, SameSite=Strict, named after the port, and opens the page and its forms only —
never /v1/files or /metrics."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from ossync.http.sessions import MAX_SESSIONS, Sessions
from tests.daemon_helpers import wait_for
from tests.http_helpers import TOKEN, Running, http_daemon, write_token

pytestmark = pytest.mark.timeout(120)


def _sign_in(run: Running, session: requests.Session) -> requests.Response:
    answer = session.post(run.base + "/login", data={"token": TOKEN}, timeout=10,
                          allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, page
    return found.group(1)


def test_a_session_is_a_random_id_with_a_strict_cookie(make_config: Callable[..., Path],
                                                       tmp_path: Path) -> None:
    http = {"token_file": str(write_token(tmp_path)), "session_lifetime": "30m"}
    with http_daemon(make_config, http) as run, requests.Session() as one, \
            requests.Session() as two:
        port = run.base.rsplit(":", 1)[1]
        cookie = _sign_in(run, one).headers["Set-Cookie"]
        name, _, rest = cookie.partition("=")
        value, *attributes = [part.strip() for part in rest.split(";")]
        assert name == f"ossync_session_{port}"
        assert {"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=1800"} <= set(attributes)
        assert TOKEN not in cookie and len(value) >= 40
        derived = hmac.new(TOKEN.encode(), b"ossync-session-v1", hashlib.sha256).hexdigest()
        assert value != derived  # the old cookie was a function of the token
        _sign_in(run, two)
        assert two.cookies[name] != value  # each sign-in its own id
        page = one.get(run.base + "/", timeout=10)
        assert page.status_code == 200 and "Sign out" in page.text
        for path in ("/v1/files", "/metrics"):  # the page's session opens nothing else
            answer = one.get(run.base + path, timeout=10)
            assert answer.status_code == 401, path
        assert run.get("/metrics", TOKEN).status_code == 200


def test_signing_out_ends_the_session(make_config: Callable[..., Path],
                                      tmp_path: Path) -> None:
    with http_daemon(make_config, {"token_file": str(write_token(tmp_path))}) as run, \
            requests.Session() as browser:
        _sign_in(run, browser)
        name, value = next(iter(browser.cookies.items()))
        csrf = _csrf(browser.get(run.base + "/", timeout=10).text)
        stale = browser.post(run.base + "/logout", data={"csrf": "0" * 64}, timeout=10,
                             allow_redirects=False)
        assert stale.status_code == 403  # CSRF-guarded like Retry
        foreign = browser.post(run.base + "/logout", data={"csrf": csrf}, timeout=10,
                               headers={"Origin": "https://attacker.example"},
                               allow_redirects=False)
        assert foreign.status_code == 403
        assert browser.get(run.base + "/", timeout=10).status_code == 200
        out = browser.post(run.base + "/logout", data={"csrf": csrf}, timeout=10,
                           allow_redirects=False)
        assert out.status_code == 303 and out.headers["Location"] == "/"
        assert f"{name}=;" in out.headers["Set-Cookie"] and "Max-Age=0" in out.headers[
            "Set-Cookie"]
        replayed = requests.get(run.base + "/", cookies={name: value}, timeout=10)
        assert replayed.status_code == 401 and 'name="token"' in replayed.text


def test_two_listeners_on_one_host_keep_apart(make_config: Callable[..., Path],
                                              tmp_path: Path) -> None:
    """A browser sends every cookie of the host to every port: each listener reads its
    own, and the id of one opens nothing on the other."""
    token = str(write_token(tmp_path))
    with http_daemon(make_config, {"token_file": token}) as a, \
            http_daemon(make_config, {"token_file": token}, ledger=str(tmp_path / "b.db")) \
            as b, requests.Session() as browser:
        _sign_in(a, browser)
        assert browser.get(b.base + "/", timeout=10).status_code == 401  # A's cookie sent
        _sign_in(b, browser)
        assert len(browser.cookies) == 2  # both kept: their names differ
        csrf_a = _csrf(browser.get(a.base + "/", timeout=10).text)
        browser.post(a.base + "/logout", data={"csrf": csrf_a}, timeout=10)
        assert browser.get(a.base + "/", timeout=10).status_code == 401
        assert browser.get(b.base + "/", timeout=10).status_code == 200
        a_port, b_port = a.base.rsplit(":", 1)[1], b.base.rsplit(":", 1)[1]
        b_id = browser.cookies[f"ossync_session_{b_port}"]
        moved = requests.get(a.base + "/", timeout=10,
                             cookies={f"ossync_session_{a_port}": b_id})
        assert moved.status_code == 401


def test_the_session_table_is_bounded(make_config: Callable[..., Path],
                                      tmp_path: Path) -> None:
    http = {"token_file": str(write_token(tmp_path)), "rate_limit": 0}
    with http_daemon(make_config, http) as run, requests.Session() as first:
        _sign_in(run, first)
        assert first.get(run.base + "/", timeout=10).status_code == 200
        with requests.Session() as others:
            for _ in range(MAX_SESSIONS):
                others.post(run.base + "/login", data={"token": TOKEN}, timeout=10,
                            allow_redirects=False)
        assert first.get(run.base + "/", timeout=10).status_code == 401  # the oldest went


def test_a_session_ends_after_its_lifetime() -> None:
    """The store itself, with a lifetime short enough to watch (the config's least is 5m)."""
    sessions = Sessions(9469, 0.3)
    sid = sessions.start()
    cookie = f"other=1; {sessions.cookie_name}={sid}"
    assert sessions.current(cookie) == sid
    started = time.monotonic()
    wait_for(lambda: sessions.current(cookie) is None, 5, "the session to end")
    assert time.monotonic() - started >= 0.2
    assert sessions.current(f'{sessions.cookie_name}="{sid}"') is None
    assert sessions.current("odd cookie; =; ;;") is None
