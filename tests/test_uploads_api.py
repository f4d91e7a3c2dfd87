"""`POST /v1/uploads`, `/v1/uploads/ID/done` and the periodic check, end to end: the real
daemon's listener on 127.0.0.1 gives forms, each photo is posted to the strict local
endpoint exactly as `wx.uploadFile` posts it (from `requests`, fields then the `file`
part), and the confirm (or the check) records it — on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from ossync.http.landing import IN_FLIGHT, AppChecker
from ossync.localoss import LocalOSS
from tests.conftest import BUCKET, SECRET
from tests.direct_helpers import (
    TOKEN,
    UPLOAD_TOKEN,
    ask,
    done,
    pending,
    photo,
    upload_daemon,
    wx_upload,
)
from tests.http_helpers import Running

JPEG = "image/jpeg"


def stored(server: LocalOSS, key: str) -> bytes:
    found = server.app.buckets[BUCKET].open(key)
    assert found is not None, key
    with found[1] as data:
        return bytes(data.read())


def _events(running: Running) -> list[dict[str, object]]:
    return [json.loads(e.data) for e in running.daemon.ledger.events_after(0, 1000)
            if e.type == "file.uploaded"]


def test_forms_posted_as_wx_upload_then_confirmed(make_config: Callable[..., Path],
                                                   tmp_path: Path, local_oss: LocalOSS,
                                                   ledger_at: str) -> None:
    photos = [photo(1), photo(2, 31_000)]
    with upload_daemon(make_config, tmp_path, ledger=ledger_at) as running:
        answer = ask(running, [{"name": "IMG_0001.JPG", "size": len(photos[0]), "type": JPEG},
                               {"name": "微信图片.jpg", "size": len(photos[1]), "type": JPEG}])
        assert answer.status_code == 200, answer.text
        assert SECRET not in answer.text
        uploads = answer.json()["uploads"]
        assert [u["method"] for u in uploads] == ["POST", "POST"]
        assert uploads[0]["url"] == f"{local_oss.endpoint}/{BUCKET}/"
        assert re.fullmatch(r"app/\d{4}/\d\d/\d\d/IMG_0001-[0-9a-f]{24}\.jpg", uploads[0]["key"])
        assert uploads[0]["fields"]["key"] == uploads[0]["key"]
        assert uploads[0]["expires"].endswith("Z") and len(pending(running)) == 2
        for upload, data in zip(uploads, photos, strict=True):
            sent = wx_upload(upload, data)
            assert sent.status_code == 200, sent.text
        first = done(running, uploads[0]["id"])
        assert first.status_code == 200, first.text
        row = first.json()
        assert (row["key"], row["size"], row["state"], row["folder"]) == (
            uploads[0]["key"], len(photos[0]), "uploaded", "app")
        assert f"/{BUCKET}/{uploads[0]['key']}" in row["url"] and row["crc64"]
        assert done(running, uploads[0]["id"]).json() == row  # idempotent
        second = done(running, uploads[1]["id"], body={"crc64": row["crc64"]})
        assert second.status_code == 409  # not the CRC-64 of the bytes stored
        assert done(running, uploads[1]["id"]).status_code == 200
        assert [stored(local_oss, u["key"]) for u in uploads] == photos
        assert pending(running) == []
        listed = running.get(f"/v1/files?key={uploads[1]['key']}", TOKEN)
        assert listed.status_code == 200 and listed.json()[0]["folder"] == "app"
        assert sorted(e["key"] for e in _events(running)) == sorted(u["key"] for u in uploads)


def test_a_confirm_before_the_upload_records_nothing(make_config: Callable[..., Path],
                                                     tmp_path: Path) -> None:
    with upload_daemon(make_config, tmp_path) as running:
        upload = ask(running, [{"name": "a.jpg", "size": 1000, "type": JPEG}]).json()
        upload_id = upload["uploads"][0]["id"]
        early = done(running, upload_id)
        assert early.status_code == 409 and "not in the bucket" in early.json()["error"]
        assert done(running, "0" * 24).status_code == 404  # never issued
        assert done(running, "../../etc").status_code == 404
        assert len(pending(running)) == 1 and _events(running) == []


def test_the_periodic_check_records_what_landed_and_drops_what_did_not(
        make_config: Callable[..., Path], tmp_path: Path, local_oss: LocalOSS) -> None:
    data = photo(3)
    with upload_daemon(make_config, tmp_path) as running:
        uploads = ask(running, [{"name": "sent.jpg", "size": len(data), "type": JPEG},
                                {"name": "never.jpg", "size": 5, "type": JPEG}]
                      ).json()["uploads"]
        assert wx_upload(uploads[0], data).status_code == 200  # and never confirmed
        daemon = running.daemon
        assert "ossync-app-uploads" in [t.name for t in daemon.threads]  # the daemon's own
        checker = AppChecker(daemon.ledger, daemon.target, 60.0)
        now = datetime.now(timezone.utc)
        assert checker.check(now) == (0, 0)  # nothing is due before its form expires
        expired = now + timedelta(minutes=11)
        assert checker.check(expired) == (1, 0)  # the sent one; the other may be in flight
        assert [i.id for i in pending(running)] == [uploads[1]["id"]]
        assert checker.check(expired + IN_FLIGHT) == (0, 1)
        assert pending(running) == [] and daemon.ledger.issued(uploads[1]["id"]) is None
        assert [e["key"] for e in _events(running)] == [uploads[0]["key"]]
        assert done(running, uploads[0]["id"]).json()["key"] == uploads[0]["key"]
        assert done(running, uploads[1]["id"]).status_code == 404  # expired unused


def test_refusals_name_each_file_and_write_nothing(make_config: Callable[..., Path],
                                                   tmp_path: Path) -> None:
    good = {"name": "ok.jpg", "size": 10, "type": JPEG}
    with upload_daemon(make_config, tmp_path, uploads={"max_file_size": "1MB"}) as running:
        too_many = ask(running, [good] * 10)
        assert too_many.status_code == 400 and "at most 9" in too_many.json()["error"]
        answer = ask(running, [good, {"name": "big.jpg", "size": 2_000_000, "type": JPEG},
                               {"name": "page.html", "size": 10, "type": "text/html"},
                               {"name": "x.svg", "size": 10, "type": "image/svg+xml"},
                               {"name": "", "size": 10, "type": JPEG},
                               {"name": "n.jpg", "size": -1, "type": JPEG},
                               {"name": "n.jpg", "size": True, "type": JPEG},
                               {"name": "x" * 5000, "size": 10, "type": JPEG}, "nonsense"])
        assert answer.status_code == 400
        reasons = [f["error"] for f in answer.json()["files"]]
        assert reasons[0] is None and all(reasons[1:]), reasons
        assert "uploads.max_file_size" in reasons[1] and reasons[2].startswith("type:")
        assert reasons[3].startswith("type:") and reasons[4].startswith("name:")
        assert reasons[5].startswith("size:") and reasons[6].startswith("size:")
        for body in (b"not json", b'{"files": "x"}', b"[]", b'{"files": []}'):
            bad = requests.post(running.base + "/v1/uploads", data=body, timeout=10,
                                headers={"Authorization": f"Bearer {UPLOAD_TOKEN}"})
            assert bad.status_code == 400, body
        assert pending(running) == []


def test_names_become_safe_keys(make_config: Callable[..., Path], tmp_path: Path,
                                local_oss: LocalOSS) -> None:
    names = ["../../x.jpg", "a\x00b\nc\x1b[31m.jpg", "n" * 2000 + ".jpg",
             "evil\u202egpj.exe", "/etc/passwd", "..", "C:\\Users\\me\\IMG.JPG"]
    data = photo(4, 500)
    with upload_daemon(make_config, tmp_path) as running:
        answer = ask(running, [{"name": n, "size": len(data), "type": JPEG} for n in names])
        assert answer.status_code == 200, answer.text
        keys = [u["key"] for u in answer.json()["uploads"]]
        for key in keys:
            assert key.startswith("app/") and ".." not in key.split("/"), key
            assert not re.search(r"[\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069\\]", key), key
            assert len(key.encode()) <= 200 and key.endswith(".jpg"), key
        assert keys[0].rsplit("/", 1)[1].startswith("x-")
        assert wx_upload(answer.json()["uploads"][3], data).status_code == 200
        assert stored(local_oss, keys[3]) == data


def test_a_form_from_the_api_cannot_be_widened(make_config: Callable[..., Path],
                                               tmp_path: Path, local_oss: LocalOSS) -> None:
    data = photo(5)
    with upload_daemon(make_config, tmp_path) as running:
        upload = ask(running, [{"name": "w.jpg", "size": len(data), "type": JPEG}]
                     ).json()["uploads"][0]
        fields = upload["fields"]
        for changed, body in (({"key": "index.html"}, data), ({}, data + b"x"),
                              ({"Content-Type": "text/html"}, data),
                              ({"success_action_status": "201"}, data)):
            widened = {**upload, "fields": {**fields, **changed}}
            refused = wx_upload(widened, body)
            assert refused.status_code in (400, 403), (changed, refused.text)
        other = {**upload, "url": upload["url"].replace(BUCKET, "other-bucket")}
        assert wx_upload(other, data).status_code in (403, 404)
        assert not list(local_oss.app.buckets[BUCKET].snapshot())
        assert done(running, upload["id"]).status_code == 409
