"""Signed URLs stay within the config's policy: `expires=` no longer than
`http.max_url_expires` (by default `oss.url_expires`), `process=` only the image
operations of an allow-list with checked parameters (or none, with `allow_process:
false`), and `http.require_token` shuts the API, the metrics and the page to token-less
callers on loopback too — `auto` when other people can log in to the host."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from ossync.cli.main import main
from ossync.config.http import HttpConfig, login_users
from tests.daemon_helpers import jpeg_bytes, uploaded_paths, wait_for
from tests.http_helpers import TOKEN, Running, http_daemon, write_token

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def photo(make_config: Callable[..., Path], drop: Path, tmp_path: Path) -> Iterator[
        tuple[Running, str]]:
    """A daemon with one uploaded photo, its API behind a token; `http` keys per test."""
    yield from _served(make_config, drop, tmp_path, {})


def _served(make_config: Callable[..., Path], drop: Path, tmp_path: Path,
            http: dict[str, Any]) -> Iterator[tuple[Running, str]]:
    with http_daemon(make_config, {"token_file": str(write_token(tmp_path)), **http}) as run:
        (drop / "a.jpg").write_bytes(jpeg_bytes(3000, seed=1))
        wait_for(lambda: len(uploaded_paths(str(tmp_path / "ledger.db"))) == 1, 30, "upload")
        yield run, str(drop / "a.jpg")


def _url(run: Running, path: str, **query: str) -> requests.Response:
    return run.get("/v1/files", TOKEN, params={"path": path, "signed": "true", **query})


def _left(answer: requests.Response) -> float:
    stamp = answer.json()[0]["url_expires_at"].replace("Z", "+00:00")
    return datetime.fromisoformat(stamp).timestamp() - time.time()


def test_expires_is_capped_by_url_expires(photo: tuple[Running, str]) -> None:
    run, path = photo
    for asked in ("7d", "2h", "3601s"):
        answer = _url(run, path, expires=asked)
        assert answer.status_code == 400, asked
        assert answer.json() == {"error": "expires: at most 1h here (http.max_url_expires)"}
    assert _left(_url(run, path, expires="1h")) == pytest.approx(3600, abs=60)
    assert _left(_url(run, path, expires="10m")) == pytest.approx(600, abs=60)


def test_max_url_expires_sets_another_cap(make_config: Callable[..., Path], drop: Path,
                                          tmp_path: Path) -> None:
    for run, path in _served(make_config, drop, tmp_path, {"max_url_expires": "10m"}):
        assert _url(run, path, expires="11m").status_code == 400
        assert _left(_url(run, path)) == pytest.approx(600, abs=60)  # 1h cut to the cap


ALLOWED = ["image/resize,w_300", "image/resize,m_fill,w_160,h_160",
           "image/resize,p_50/quality,q_80/format,webp", "image/crop,w_100,h_100,g_center",
           "image/rotate,90", "image/auto-orient,1", "image/resize,m_pad,w_10,h_10,color_FF00AA"]
REFUSED = [
    ("image/resize,w_100|sys/saveas,o_b3V0LmpwZw,b_YnVja2V0", "w_100|sys is not a param"),
    ("image/watermark,image_c2VjcmV0LmpwZw", "watermark is not signed here"),
    ("image/watermark,text_SGVsbG8", "watermark is not signed here"),
    ("style/thumbnail", "only image/ operations"),
    ("video/snapshot,t_0,f_jpg", "only image/ operations"),
    ("doc/preview", "only image/ operations"),
    ("image/resize,w_abc", "w_abc is not a parameter"),
    ("image/resize,w_99999", "w_99999 is not a parameter"),
    ("image/resize,w_١٠٠", "plain ASCII"),
    ("image/crop,w_10,w_20", "w_20 is not a parameter"),
    ("image/format,exe", "exe is not a parameter"),
    ("image/rotate,90,180", "is not a parameter"),
    ("image/resize", "resize needs a parameter"),
    ("image/", "only image/ operations"),
    ("image/resize,w_1" + "/resize,w_1" * 8, "only image/ operations"),
]


def test_process_is_an_allow_list(photo: tuple[Running, str]) -> None:
    run, path = photo
    for spec in ALLOWED:
        answer = _url(run, path, process=spec)
        assert answer.status_code == 200, (spec, answer.text)
        assert requests.get(answer.json()[0]["url"], timeout=10).status_code == 200, spec
    for spec, reason in REFUSED:
        answer = _url(run, path, process=spec)
        assert answer.status_code == 400, spec
        error = answer.json()["error"]
        assert error.startswith("process: ") and reason in error, (spec, error)
        assert len(error) < 200


def test_process_can_be_turned_off(make_config: Callable[..., Path], drop: Path,
                                   tmp_path: Path) -> None:
    for run, path in _served(make_config, drop, tmp_path, {"allow_process": False}):
        answer = _url(run, path, process="image/resize,w_300")
        assert answer.status_code == 400
        assert answer.json()["error"] == ("process: image processing is off here "
                                          "(http.allow_process)")
        assert _url(run, path).status_code == 200


def test_require_token_shuts_loopback_too(make_config: Callable[..., Path]) -> None:
    out, err = io.StringIO(), io.StringIO()
    config = make_config(http={"listen": "127.0.0.1:0", "require_token": "always"})
    assert main(["check-config", "-c", str(config)], out, err) == 0, err.getvalue()
    assert "warning: http: http.require_token is always, so /metrics, /v1/files and the " \
           "status page need a token, and none is set" in out.getvalue()
    with http_daemon(make_config, {"require_token": "always"}) as run:
        for path in ("/v1/files", "/metrics", "/"):
            answer = run.get(path)
            assert answer.status_code == 401, path
            assert "http.token_file" in answer.text
        assert 'name="token"' not in run.get("/").text  # no token could be typed in
        assert run.get("/healthz").status_code == 200  # the checks stay open
        assert run.get("/readyz").status_code in (200, 503)


PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
postgres:x:110:118:PostgreSQL:/var/lib/postgresql:/bin/bash
ossync:x:998:998::/var/lib/ossync:/usr/sbin/nologin
admin:x:1000:1000:Admin:/home/admin:/bin/bash
alice:x:1001:1001:Alice:/home/alice:/bin/zsh
bob:x:1002:1002:Bob:/home/bob:
svc:x:1003:1003::/srv:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
broken line
"""
GROUP = "sudo:x:27:admin\nwheel:x:10:\nalice:x:1001:\n"


def test_auto_counts_the_people_who_can_log_in() -> None:
    assert login_users(PASSWD, GROUP, "", own_uid=998) == ("alice", "bob")
    assert login_users(PASSWD, GROUP, "", own_uid=1001) == ("bob",)  # ossync runs as alice
    assert login_users(PASSWD, "", "", own_uid=998) == ("admin", "alice", "bob")
    assert login_users(PASSWD, GROUP, "UID_MIN 1002\nUID_MAX 1002\n", own_uid=998) == ("bob",)
    alone = "root:x:0:0::/root:/bin/bash\nme:x:1000:1000::/home/me:/bin/bash\n"
    assert login_users(alone, "", "", own_uid=1000) == ()
    config = HttpConfig("127.0.0.1", 9469, other_users=("alice",))
    assert config.token_required and config.locked
    assert not HttpConfig("127.0.0.1", 9469).locked  # auto, nobody else
    assert not HttpConfig("127.0.0.1", 9469, require_token="never",
                          other_users=("alice",)).locked
    assert HttpConfig("127.0.0.1", 9469, require_token="always").locked
    assert not HttpConfig("127.0.0.1", 9469, token=TOKEN, require_token="always").locked
