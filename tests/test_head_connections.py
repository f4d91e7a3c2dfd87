"""HEADs on the target's own keep-alive connections: reused across requests, opened again
once when the store closed one meanwhile, all closed with the target, and an ordinary
request through requests when a proxy is configured."""

from __future__ import annotations

from pathlib import Path

import pytest

from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.localoss import LocalOSS
from ossync.targets.oss.target import OssTarget
from tests.conftest import BUCKET, REGION


def _target(server: LocalOSS, creds: Credentials) -> OssTarget:
    return OssTarget(endpoint=server.endpoint, bucket=BUCKET, region=REGION, credentials=creds)


def test_heads_reuse_a_connection_and_reopen_one_the_store_closed(
        local_oss: LocalOSS, creds: Credentials, tmp_path: Path) -> None:
    target = _target(local_oss, creds)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"\xff\xd8" + b"x" * 1000 + b"\xff\xd9")
    target.upload(photo, "a.jpg", content_type="image/jpeg")
    first = target.head("a.jpg")
    assert first is not None and first.size == 1004
    assert target.head("missing.jpg") is None
    held = list(target._head_connections._all)
    assert len(held) == 1  # one thread, one connection, kept
    server = local_oss._server
    assert server is not None
    server.close_connections()  # the store drops every kept connection
    assert target.head("a.jpg") == first
    assert list(target._head_connections._all) != held  # a new one
    target.close()
    assert not target._head_connections._all


def test_a_proxy_takes_the_ordinary_way(local_oss: LocalOSS, creds: Credentials,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    target = _target(local_oss, creds)
    with pytest.raises(StoreError) as caught:
        target.head("a.jpg")
    assert caught.value.retryable and "Proxy" in caught.value.code + caught.value.message
    assert not target._head_connections._all
    target.close()
