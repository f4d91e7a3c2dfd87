"""OSS upload callbacks end to end: the strict local endpoint calls the real daemon's
`/v1/uploads/callback` with a real RSA signature (its own key, trusted only because the
test config says `trust_local_endpoint` on loopback), the daemon verifies it as Alibaba
documents and records the upload, and its JSON answer reaches the uploader. Forged,
replayed and unknown callbacks change nothing; a failed callback (203) loses nothing."""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from ossync.localoss import LocalOSS
from ossync.localoss.callback import KEY_PATH
from tests.conftest import BUCKET
from tests.direct_helpers import ask, done, free_port, pending, photo, upload_daemon, wx_upload
from tests.http_helpers import Running

JPEG = "image/jpeg"
PATH = "/v1/uploads/callback"


@contextmanager
def callback_daemon(make_config: Callable[..., Path], folder: Path, *, answering: bool = True,
                    **top: Any) -> Iterator[Running]:
    port = free_port()
    target = port if answering else free_port()  # nothing listens there: OSS gets no answer
    uploads = {"callback_url": f"http://127.0.0.1:{target}{PATH}", "trust_local_endpoint": True}
    with upload_daemon(make_config, folder, uploads=uploads,
                       http={"listen": f"127.0.0.1:{port}"}, **top) as running:
        yield running


def _count(running: Running) -> int:
    return sum(1 for e in running.daemon.ledger.events_after(0, 1000)
               if e.type == "file.uploaded")


def _signed_post(running: Running, body: bytes, sign: Callable[[bytes], bytes],
                 key_url: str) -> requests.Response:
    """A callback as OSS sends one: the signature over path + "\\n" + body."""
    signature = sign(PATH.encode() + b"\n" + body)
    return requests.post(running.base + PATH, data=body, timeout=10, headers={
        "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "aliyun-oss-callback",
        "Authorization": base64.b64encode(signature).decode(),
        "x-oss-pub-key-url": base64.b64encode(key_url.encode()).decode()})


def _body(upload_id: str, key: str, size: int) -> bytes:
    return (f"id={upload_id}&bucket={BUCKET}&object={key.replace('/', '%2F')}&size={size}"
            f"&mimeType=image%2Fjpeg&crc64=1&etag=ABC").encode()


def test_a_callback_records_the_upload_and_answers_the_uploader(
        make_config: Callable[..., Path], tmp_path: Path, local_oss: LocalOSS,
        ledger_at: str) -> None:
    data = photo(7)
    with callback_daemon(make_config, tmp_path, ledger=ledger_at) as running:
        upload = ask(running, [{"name": "cb.jpg", "size": len(data), "type": JPEG}]
                     ).json()["uploads"][0]
        assert "callback" in upload["fields"]
        sent = wx_upload(upload, data)
        assert sent.status_code == 200, sent.text
        row = sent.json()  # ossync's answer, relayed by the store to the phone
        assert (row["key"], row["state"], row["size"]) == (upload["key"], "uploaded", len(data))
        assert pending(running) == [] and _count(running) == 1
        assert done(running, upload["id"]).json() == row  # the confirm after: no change
        assert _count(running) == 1


def test_forged_replayed_and_unknown_callbacks_change_nothing(
        make_config: Callable[..., Path], tmp_path: Path, local_oss: LocalOSS) -> None:
    data = photo(8)
    local_url = local_oss.endpoint + KEY_PATH
    own_key = local_oss.app.callback_key
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def forge(signed: bytes) -> bytes:
        return bytes(forger.sign(signed, padding.PKCS1v15(), hashes.MD5()))

    with callback_daemon(make_config, tmp_path) as running, attacker_key(forger) as evil_url:
        upload = ask(running, [{"name": "f.jpg", "size": len(data), "type": JPEG}]
                     ).json()["uploads"][0]
        assert wx_upload(upload, data).status_code == 200
        body = _body(upload["id"], upload["key"], len(data))
        assert _count(running) == 1
        replay = _signed_post(running, body, own_key.sign, local_url)
        assert replay.status_code == 200 and _count(running) == 1  # recorded once
        other = ask(running, [{"name": "g.jpg", "size": len(data), "type": JPEG}]
                    ).json()["uploads"][0]
        forged = _body(other["id"], other["key"], len(data))
        for key_url in (evil_url[0], "https://gosspublic.alicdn.com.evil.example/k.pem",
                        "https://evil.example/gosspublic.alicdn.com/k.pem",
                        "file:///etc/ssl/k.pem", local_oss.endpoint + "/_localossX/k.pem"):
            refused = _signed_post(running, forged, forge, key_url)
            assert refused.status_code == 403, (key_url, refused.text)
        assert evil_url[1] == []  # a key outside the allowed places is never fetched
        wrong = _signed_post(running, forged, forge, local_url)  # right place, wrong key
        assert wrong.status_code == 403 and "signature" in wrong.json()["error"]
        unknown = _signed_post(running, _body("f" * 24, other["key"], len(data)),
                               own_key.sign, local_url)
        assert unknown.status_code == 404
        resized = _signed_post(running, _body(other["id"], other["key"], 1), own_key.sign,
                               local_url)
        assert resized.status_code == 409  # not what the form allowed
        unsigned = requests.post(running.base + PATH, data=forged, timeout=10)
        assert unsigned.status_code == 403
        assert [i.id for i in pending(running)] == [other["id"]] and _count(running) == 1


@contextmanager
def attacker_key(key: Any) -> Iterator[tuple[str, list[str]]]:
    """A server on 127.0.0.1 serving the forger's public key; the paths it was asked for."""
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(pem)))
            self.end_headers()
            self.wfile.write(pem)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="test-attacker-key")
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/_localoss/k.pem", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_failed_callback_loses_nothing(make_config: Callable[..., Path], tmp_path: Path,
                                         local_oss: LocalOSS) -> None:
    data = photo(9)
    with callback_daemon(make_config, tmp_path, answering=False) as running:
        upload = ask(running, [{"name": "lost.jpg", "size": len(data), "type": JPEG}]
                     ).json()["uploads"][0]
        sent = wx_upload(upload, data)
        assert sent.status_code == 203 and b"CallbackFailed" in sent.content  # stored anyway
        assert [i.id for i in pending(running)] == [upload["id"]]
        confirmed = done(running, upload["id"])
        assert confirmed.status_code == 200 and confirmed.json()["size"] == len(data)
        assert pending(running) == [] and _count(running) == 1


@pytest.mark.parametrize("path", ["/v1/uploads/callback"])
def test_no_callbacks_without_a_callback_url(make_config: Callable[..., Path], tmp_path: Path,
                                             path: str) -> None:
    with upload_daemon(make_config, tmp_path) as running:
        assert requests.post(running.base + path, data=b"id=x", timeout=10).status_code == 404
