"""The URL API (`GET /v1/files`) of a real daemon: the bearer token, look-ups and pages in
the JSON of `ossync show --json`, signed URLs the local endpoint accepts, the rate limit
and the Host check."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from ossync.cli.main import main
from ossync.http import api
from ossync.http.wsgi import HttpProblem, Request
from ossync.ledger import Ledger, Sighting
from tests.daemon_helpers import jpeg_bytes, uploaded_paths, wait_for
from tests.http_helpers import TOKEN, Running, http_daemon, write_token

FILES = {"a.jpg": jpeg_bytes(3000, seed=1), "copy of a.jpg": jpeg_bytes(3000, seed=1),
         "b.jpg": jpeg_bytes(4000, seed=2), "图 c.jpg": jpeg_bytes(5000, seed=3),
         "d.jpg": jpeg_bytes(6000, seed=4)}


@pytest.fixture
def served(make_config: Callable[..., Path], drop: Path, tmp_path: Path,
           ledger_at: str) -> Iterator[Running]:
    """A daemon that uploaded FILES, its API behind a token (on each ledger backend)."""
    http = {"token_file": str(write_token(tmp_path))}
    with http_daemon(make_config, http, ledger=ledger_at) as run:
        for name, data in FILES.items():
            (drop / name).write_bytes(data)
            time.sleep(0.05)  # distinct update times, so "newest first" is well defined
        wait_for(lambda: len(uploaded_paths(ledger_at)) == len(FILES), 30, "uploads")
        yield run


def _files(run: Running, **query: str) -> requests.Response:
    return run.get("/v1/files", TOKEN, params=query)


def test_no_token_no_answer(served: Running, drop: Path) -> None:
    for token in (None, "wrong", TOKEN + "x", TOKEN[:-1], ""):
        for path in ("/v1/files?path=" + str(drop / "a.jpg"), "/metrics"):
            answer = served.get(path, token)
            assert answer.status_code == 401, (token, path)
            assert answer.json() == {"error": "unauthorized"}
            assert answer.headers["WWW-Authenticate"] == 'Bearer realm="ossync"'
    page = served.get("/")
    assert page.status_code == 401 and 'name="token"' in page.text
    assert str(drop) not in page.text and "a.jpg" not in page.text
    assert served.get("/healthz").status_code == 200  # for load balancers: no token
    assert served.get("/metrics", TOKEN).status_code == 200


def _show_json(run: Running, what: str) -> list[dict[str, Any]]:
    out, err = io.StringIO(), io.StringIO()
    assert main(["show", "--json", "-c", str(run.config), what], out, err) == 0, err.getvalue()
    return list(json.loads(out.getvalue()))


def test_lookups_answer_as_show_json_does(served: Running, drop: Path) -> None:
    a = str(drop / "a.jpg")
    answer = _files(served, path=a)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    [found] = answer.json()
    [shown] = [r for r in _show_json(served, a) if r["path"] == a]
    assert found.keys() == shown.keys()
    unsigned = {k: v for k, v in found.items() if k not in ("url", "url_expires_at")}
    assert unsigned == {k: v for k, v in shown.items() if k not in ("url", "url_expires_at")}
    # oss.url_mode defaults to signed without a public_url: a presigned URL that the local
    # endpoint (which checks signatures as OSS does) serves.
    assert "x-oss-signature=" in found["url"]
    assert requests.get(found["url"], timeout=10).content == FILES["a.jpg"]
    assert (datetime.fromisoformat(found["url_expires_at"].replace("Z", "+00:00")).timestamp()
            - time.time()) == pytest.approx(3600, abs=60)
    by_hash = _files(served, sha256=found["sha256"]).json()
    by_key = _files(served, key=found["key"]).json()
    assert {r["path"] for r in by_hash} == {r["path"] for r in by_key} == {
        a, str(drop / "copy of a.jpg")}
    unicode = _files(served, path=str(drop / "图 c.jpg")).json()
    assert unicode[0]["path"].endswith("图 c.jpg")
    assert _files(served, path=str(drop / "sub" / ".." / "a.jpg")).json()[0]["path"] == a


def test_url_options(served: Running, drop: Path) -> None:
    a = str(drop / "a.jpg")
    plain = _files(served, path=a, signed="false").json()[0]
    assert "x-oss-signature" not in plain["url"] and "url_expires_at" not in plain
    short = _files(served, path=a, expires="2m").json()[0]
    left = datetime.fromisoformat(short["url_expires_at"].replace("Z", "+00:00")).timestamp()
    assert left - time.time() == pytest.approx(120, abs=10)
    thumb = _files(served, path=a, process="image/resize,w_300").json()[0]
    assert "x-oss-process=image%2Fresize%2Cw_300" in thumb["url"]
    assert requests.get(thumb["url"], timeout=10).status_code == 200  # signed with it
    assert requests.get(thumb["url"].replace("w_300", "w_900"), timeout=10).status_code == 403


BAD = [
    ({"path": "drop/a.jpg"}, 400, "path: must be absolute"),
    ({"path": "/no/such/file.jpg"}, 404, "nothing in the ledger for that path"),
    ({"sha256": "abc"}, 400, "sha256: must be 64 hexadecimal digits"),
    ({"key": "no/such/key.jpg"}, 404, "nothing in the ledger for that key"),
    ({"path": "/x", "key": "y"}, 400, "ask for one of path=, sha256= and key="),
    ({"limit": "0"}, 400, "limit: must be a whole number"),
    ({"state": "lost"}, 400, "state: must be one of"),
    ({"since": "yesterday-ish"}, 400, "since: "),
    ({"cursor": "bm9wZQ"}, 400, "cursor: not one this API gave out"),
    ({"expires": "30d"}, 400, "expires: a signed URL must live at least 1s and at most 7d"),
    ({"signed": "maybe"}, 400, "signed: must be true or false"),
    ({"path": "/a\x00b"}, 400, "path: too long, or not text"),
]


def test_bad_questions(served: Running) -> None:
    for query, status, error in BAD:
        answer = _files(served, **query)
        assert answer.status_code == status, query
        assert answer.json()["error"].startswith(error), answer.json()
    twice = served.get("/v1/files?limit=1&limit=2", TOKEN)
    assert (twice.status_code, twice.json()) == (400, {"error": "limit is given 2 times"})


def test_pages_newest_first(served: Running, drop: Path) -> None:
    seen: list[dict[str, Any]] = []
    link: str | None = "/v1/files?limit=2&signed=false"
    while link:
        answer = served.get(link, TOKEN)
        assert answer.status_code == 200
        page = answer.json()
        assert 1 <= len(page) <= 2
        seen += page
        link = answer.links.get("next", {}).get("url")
    assert sorted(r["path"] for r in seen) == sorted(str(drop / n) for n in FILES)
    stamps = [r["updated_at"] for r in seen]
    assert stamps == sorted(stamps, reverse=True)
    assert len(_files(served, since="2099-01-01").json()) == 0
    assert len(_files(served, since="1h", folder="drop").json()) == len(FILES)
    assert len(_files(served, folder=str(drop)).json()) == len(FILES)
    assert _files(served, folder="other").json() == []


def test_a_page_boundary_inside_one_millisecond(tmp_path: Path) -> None:
    """Rows noted in one transaction share their update time; paging loses none of them."""
    with Ledger.open(tmp_path / "ledger.db", host="h") as ledger:
        ledger.note([Sighting(f"/d/{i}.jpg", "d", 1, i, 0.0) for i in range(7)])
        shown: list[str] = []
        query: dict[str, list[str]] = {"state": ["pending"], "limit": ["3"]}
        while True:
            page = api._page(ledger, Request("GET", "/v1/files", query, "127.0.0.1", None))
            shown += [i.path for i in page.items]
            if page.next_cursor is None:
                break
            query = {**query, "cursor": [page.next_cursor]}
    assert sorted(shown) == sorted(f"/d/{i}.jpg" for i in range(7))
    with pytest.raises(HttpProblem):
        api.decode_cursor(api.encode_cursor("not a time", 1))


def test_rate_limit_and_host_check(make_config: Callable[..., Path]) -> None:
    with http_daemon(make_config, {"rate_limit": 0.5, "rate_burst": 3}) as run:
        assert [run.get("/healthz").status_code for _ in range(3)] == [200] * 3
        limited = run.get("/healthz")
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    with http_daemon(make_config) as run:  # no token: only loopback names may be asked for
        port = run.base.rsplit(":", 1)[1]
        rebound = run.get("/v1/files", headers={"Host": f"attacker.example:{port}"})
        assert rebound.status_code == 421
        assert run.get("/v1/files", headers={"Host": f"localhost:{port}"}).status_code == 200
