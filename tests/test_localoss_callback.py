"""The local endpoint's upload callbacks, as OSS makes them: after the object is stored, the
callback body (variables filled) is POSTed to the callback URL, signed with the endpoint's
RSA key — checked here with `cryptography`, from the key its `x-oss-pub-key-url` names —
and the JSON answer relayed; a callback server that fails, answers badly or too slowly
gets the uploader a 203 CallbackFailed, the object stored all the same. The callback must
be pinned by the form's policy, and a malformed one is refused before the upload."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

import ossync.localoss.callback as callback_module
from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.targets.direct import FormRequest
from ossync.targets.oss.direct import OssForms

from .conftest import BUCKET, REGION

PHOTO = b"\xff\xd8" + b"photo bytes " * 300 + b"\xff\xd9"


class Receiver:
    """An app server on 127.0.0.1:0 that records each callback and answers as told."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.status, self.body, self.delay = 200, b'{"ok": true}', 0.0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.calls.append({"path": self.path, "headers": dict(self.headers),
                                    "body": body})
                time.sleep(outer.delay)
                self.send_response(outer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.write(outer.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name="test-callback-receiver")

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as found:
        yield found


def callback_field(url: str, body: str, body_type: str | None = None) -> str:
    doc = {"callbackUrl": url, "callbackBody": body}
    if body_type:
        doc["callbackBodyType"] = body_type
    return base64.b64encode(json.dumps(doc).encode()).decode()


def post(server: LocalOSS, creds: Credentials, key: str, callback: str | None,
         extra: dict[str, str] | None = None, pinned: bool = True) -> requests.Response:
    forms = OssForms(endpoint=server.endpoint, bucket=BUCKET, region=REGION)
    form = forms.form(creds, FormRequest(key, len(PHOTO), "image/jpeg",
                                         callback=callback if pinned else None),
                      now=datetime.now(timezone.utc), lifetime=timedelta(minutes=10))
    fields = dict(form.fields)
    if callback is not None and not pinned:
        fields["callback"] = callback
    fields.update(extra or {})
    return requests.post(form.url, data=fields, files={"file": ("p.jpg", PHOTO, "image/jpeg")},
                         timeout=30)


def verified(call: dict[str, Any]) -> bool:
    """Alibaba's documented check, with `cryptography`: the key from x-oss-pub-key-url,
    MD5withRSA over the URL-decoded path, the query, a newline and the body."""
    key_url = base64.b64decode(call["headers"]["x-oss-pub-key-url"]).decode()
    pem = requests.get(key_url, timeout=10).content
    key = serialization.load_pem_public_key(pem)
    parts = urlsplit(call["path"])
    signed = parts.path.encode() + (f"?{parts.query}".encode() if parts.query else b"") + \
        b"\n" + call["body"]
    try:
        key.verify(base64.b64decode(call["headers"]["Authorization"]), signed,  # type: ignore[union-attr,call-arg]
                   padding.PKCS1v15(), hashes.MD5())  # type: ignore[arg-type]
    except Exception:
        return False
    return True


def stored(server: LocalOSS, key: str) -> bool:
    return server.app.buckets[BUCKET].open(key) is not None


def test_a_callback_is_made_signed_and_relayed(local_oss: LocalOSS, creds: Credentials,
                                               receiver: Receiver) -> None:
    field = callback_field(receiver.url + "/v1/uploads/callback?from=oss",
                           "upload=ID1&bucket=${bucket}&object=${object}&size=${size}"
                           "&mimeType=${mimeType}&crc64=${crc64}&etag=${etag}&uid=${x:uid}")
    answer = post(local_oss, creds, "app/金 & co.jpg", field, {"x:uid": "u 7"})
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    assert answer.headers["Content-Type"] == "application/json"
    [call] = receiver.calls
    assert verified(call)
    headers = call["headers"]
    assert headers["User-Agent"] == "aliyun-oss-callback"
    assert headers["x-oss-bucket"] == BUCKET and headers["x-oss-tag"] == "CALLBACK"
    assert headers["x-oss-request-id"] == answer.headers["x-oss-request-id"]
    assert headers["Content-MD5"] == base64.b64encode(
        hashlib.md5(call["body"]).digest()).decode()
    values = {k: v[0] for k, v in parse_qs(call["body"].decode()).items()}
    assert values == {"upload": "ID1", "bucket": BUCKET, "object": "app/金 & co.jpg",
                      "size": str(len(PHOTO)), "mimeType": "image/jpeg",
                      "crc64": answer.headers["x-oss-hash-crc64ecma"],
                      "etag": answer.headers["ETag"].strip('"'), "uid": "u 7"}
    assert stored(local_oss, "app/金 & co.jpg")


def test_a_json_body_takes_json_strings(local_oss: LocalOSS, creds: Credentials,
                                        receiver: Receiver) -> None:
    field = callback_field(receiver.url + "/cb", '{"object":${object},"size":${size}}',
                           "application/json")
    assert post(local_oss, creds, 'app/say "hi".jpg', field).status_code == 200
    [call] = receiver.calls
    assert json.loads(call["body"]) == {"object": 'app/say "hi".jpg', "size": str(len(PHOTO))}
    assert verified(call)


@pytest.mark.parametrize("trouble", ["status", "not json", "slow", "nobody"])
def test_a_failed_callback_is_203_and_the_object_stays(
        local_oss: LocalOSS, creds: Credentials, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch, trouble: str) -> None:
    url = receiver.url + "/cb"
    if trouble == "status":
        receiver.status = 502
    elif trouble == "not json":
        receiver.body = b"<html>ok</html>"
    elif trouble == "slow":
        monkeypatch.setattr(callback_module, "TIMEOUT", 0.5)
        receiver.delay = 1.5
    else:
        url = "http://127.0.0.1:9/cb"  # nothing listens on the discard port
    answer = post(local_oss, creds, "app/kept.jpg", callback_field(url, "o=${object}"))
    assert answer.status_code == 203
    assert "<Code>CallbackFailed</Code>" in answer.text
    assert answer.headers["ETag"] and stored(local_oss, "app/kept.jpg")
    assert len(receiver.calls) == (0 if trouble == "nobody" else 1)  # never tried again


def test_the_next_url_is_tried(local_oss: LocalOSS, creds: Credentials,
                               receiver: Receiver) -> None:
    field = callback_field(f"http://127.0.0.1:9/down;{receiver.url}/up", "o=${object}")
    assert post(local_oss, creds, "app/second.jpg", field).status_code == 200
    assert [c["path"] for c in receiver.calls] == ["/up"]


def test_an_unpinned_or_malformed_callback_is_refused(local_oss: LocalOSS,
                                                      creds: Credentials,
                                                      receiver: Receiver) -> None:
    field = callback_field(receiver.url + "/cb", "o=${object}")
    answer = post(local_oss, creds, "app/unpinned.jpg", field, pinned=False)
    assert answer.status_code == 403 and "exact condition for callback" in answer.text
    for bad in ("not base64!", base64.b64encode(b'{"callbackUrl": "x"}').decode(),
                callback_field("ftp://127.0.0.1/cb", "o=1"),
                callback_field(receiver.url, "{not json", "application/json")):
        answer = post(local_oss, creds, "app/bad.jpg", bad)
        assert answer.status_code == 400 and "<Code>InvalidArgument</Code>" in answer.text
    assert not receiver.calls and not stored(local_oss, "app/unpinned.jpg")
    assert not stored(local_oss, "app/bad.jpg")


def test_the_key_is_served_where_no_bucket_can_be(local_oss: LocalOSS) -> None:
    answer = requests.get(local_oss.endpoint + "/_localoss/callback_pub_key.pem", timeout=10)
    assert answer.status_code == 200
    assert answer.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    assert local_oss.app.key_url == local_oss.endpoint + "/_localoss/callback_pub_key.pem"
