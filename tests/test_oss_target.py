"""The OSS upload client against the real local endpoint over HTTP."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

import ossync.targets.oss.target as oss_module
from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.localoss import LocalOSS
from ossync.targets import KeyTaken
from ossync.targets.oss.target import OssTarget

from .conftest import BUCKET, REGION, SECRET


def _target(server: LocalOSS, creds: Credentials, **kw: Any) -> OssTarget:
    return OssTarget(endpoint=server.endpoint, bucket=BUCKET, region=REGION,
                     credentials=creds, **kw)


@pytest.fixture
def target(local_oss: LocalOSS, creds: Credentials) -> Iterator[OssTarget]:
    t = _target(local_oss, creds)
    yield t
    t.close()


def _photo(tmp_path: Path, name: str = "a.jpg", size: int = 300_000) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(size) + b"\xff\xd9")
    return path


def _fetch(target: OssTarget, key: str) -> bytes:
    from ossync.targets.oss.signing import v4_header_auth

    headers = v4_header_auth(target.credentials, method="GET", bucket=BUCKET, key=key,
                             region=REGION, now=target.now())
    resp = requests.get(oss_module.object_url(target.base_url, key), headers=headers, timeout=10)
    resp.raise_for_status()
    return resp.content


@pytest.mark.parametrize("version", [4, 1])
def test_upload_lands_byte_identical(local_oss: LocalOSS, creds: Credentials, tmp_path: Path,
                                     version: int) -> None:
    target = _target(local_oss, creds, signature_version=version)
    try:
        photo = _photo(tmp_path)
        key = "images/2026/11/25/图 a+b #1.jpg"
        result = target.upload(photo, key, content_type="image/jpeg")
        assert result.crc64 == crc64(photo.read_bytes())
        assert result.url == (f"{local_oss.endpoint}/{BUCKET}/images/2026/11/25/"
                              "%E5%9B%BE%20a%2Bb%20%231.jpg")
        assert _fetch(target, key) == photo.read_bytes()
        info = target.head(key)
        assert info is not None and info.size == photo.stat().st_size
        assert info.content_type == "image/jpeg"
        assert target.head("no/such/key.jpg") is None
    finally:
        target.close()


def test_sts_token_is_sent_and_checked(tmp_path: Path, sts_creds: Credentials) -> None:
    with LocalOSS(tmp_path / "root", [BUCKET], sts_creds, region=REGION) as server:
        good = _target(server, sts_creds)
        bare = _target(server, Credentials(sts_creds.access_key_id, SECRET))
        try:
            assert good.upload(_photo(tmp_path), "k/sts.jpg", content_type="image/jpeg")
            with pytest.raises(StoreError) as info:
                bare.upload(_photo(tmp_path, "b.jpg"), "k/b.jpg", content_type="image/jpeg")
            assert not info.value.retryable
        finally:
            good.close()
            bare.close()


def test_wrong_secret_is_a_clear_permanent_error(local_oss: LocalOSS, tmp_path: Path) -> None:
    target = _target(local_oss, Credentials("LTAI5tOssyncTestKey01", "wrong-secret-value"))
    try:
        with pytest.raises(StoreError) as info:
            target.upload(_photo(tmp_path), "k/x.jpg", content_type="image/jpeg")
    finally:
        target.close()
    err = info.value
    assert err.code == "SignatureDoesNotMatch" and err.http_status == 403
    assert not err.retryable
    assert "OSS_ACCESS_KEY_SECRET" in str(err)
    assert "wrong-secret-value" not in str(err)


def test_expired_policy_is_refused(local_oss: LocalOSS, creds: Credentials,
                                   tmp_path: Path) -> None:
    target = _target(local_oss, creds, policy_lifetime=60)
    target.clock_offset = -timedelta(minutes=10)  # within the skew window, past the policy
    try:
        with pytest.raises(StoreError) as info:
            target.upload(_photo(tmp_path), "k/late.jpg", content_type="image/jpeg")
    finally:
        target.close()
    assert info.value.code == "AccessDenied"
    assert "expired" in info.value.message.lower()


def test_clock_minutes_off_is_corrected_from_the_server(local_oss: LocalOSS, creds: Credentials,
                                                        tmp_path: Path) -> None:
    target = _target(local_oss, creds)
    target.clock_offset = timedelta(minutes=-40)
    try:
        result = target.upload(_photo(tmp_path), "k/skew.jpg", content_type="image/jpeg")
        assert abs(target.clock_offset) < timedelta(seconds=5)
        assert result.key == "k/skew.jpg"
    finally:
        target.close()


def _tamper(monkeypatch: pytest.MonkeyPatch, change: dict[str, Any]) -> None:
    """Sign a policy that differs from what is sent (fault injection around our signer)."""
    real = oss_module.post_form_fields

    def signed_differently(creds: Credentials, upload: Any, **kw: Any) -> dict[str, str]:
        fields = real(creds, type(upload)(**{**upload.__dict__, **change}), **kw)
        fields["key"] = upload.key
        return fields

    monkeypatch.setattr(oss_module, "post_form_fields", signed_differently)


def test_key_outside_the_policy_is_refused(target: OssTarget, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    _tamper(monkeypatch, {"key": "somewhere/else.jpg"})
    with pytest.raises(StoreError) as info:
        target.upload(_photo(tmp_path), "k/mine.jpg", content_type="image/jpeg")
    assert info.value.code == "AccessDenied"
    assert "$key" in info.value.message


def test_oversize_file_is_refused(target: OssTarget, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    photo = _photo(tmp_path)
    _tamper(monkeypatch, {"size": photo.stat().st_size - 1})
    with pytest.raises(StoreError) as info:
        target.upload(photo, "k/big.jpg", content_type="image/jpeg")
    assert info.value.code == "EntityTooLarge"
    assert "max_file_size" in str(info.value)


def test_different_content_never_overwrites(target: OssTarget, tmp_path: Path) -> None:
    first, second = _photo(tmp_path, "1.jpg"), _photo(tmp_path, "2.jpg")
    target.upload(first, "k/same.jpg", content_type="image/jpeg")
    with pytest.raises(KeyTaken):
        target.upload(second, "k/same.jpg", content_type="image/jpeg")
    assert _fetch(target, "k/same.jpg") == first.read_bytes()


def test_retry_recognises_its_own_object(target: OssTarget, tmp_path: Path) -> None:
    """The answer was lost after OSS stored the object: the retry meets 409 and it is ours."""
    photo = _photo(tmp_path)
    first = target.upload(photo, "k/again.jpg", content_type="image/jpeg")
    second = target.upload(photo, "k/again.jpg", content_type="image/jpeg")
    assert second.already_present and not first.already_present
    assert second.crc64 == first.crc64 and second.url == first.url


def test_unreachable_endpoint_is_retryable(creds: Credentials, tmp_path: Path) -> None:
    target = OssTarget(endpoint="http://127.0.0.1:9", bucket=BUCKET, region=REGION,
                       credentials=creds, connect_timeout=2)
    try:
        with pytest.raises(StoreError) as info:
            target.upload(_photo(tmp_path), "k/x.jpg", content_type="image/jpeg")
    finally:
        target.close()
    assert info.value.retryable


def test_streaming_body_does_not_read_the_file_whole(target: OssTarget, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Every read of the file part is bounded: the file is never loaded at once."""
    from ossync.targets import form_body as multipart

    reads: list[int] = []
    original = multipart.MultipartFileBody.read

    def spy(self: multipart.MultipartFileBody, size: int = -1) -> bytes:
        chunk = original(self, size)
        reads.append(len(chunk))
        return chunk

    monkeypatch.setattr(multipart.MultipartFileBody, "read", spy)
    photo = _photo(tmp_path, size=3_000_000)
    target.upload(photo, "k/stream.jpg", content_type="image/jpeg")
    assert sum(reads) > 3_000_000
    assert max(reads) <= 1 << 20


def test_policy_is_short_lived_and_pins_the_key(target: OssTarget, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[dict[str, str]] = []
    real = oss_module.post_form_fields

    def capture(*args: Any, **kw: Any) -> dict[str, str]:
        fields = real(*args, **kw)
        seen.append(fields)
        return fields

    monkeypatch.setattr(oss_module, "post_form_fields", capture)
    photo = _photo(tmp_path)
    target.upload(photo, "k/pinned.jpg", content_type="image/jpeg")
    policy = json.loads(base64.b64decode(seen[0]["policy"]))
    assert ["eq", "$key", "k/pinned.jpg"] in policy["conditions"]
    size = photo.stat().st_size
    assert ["content-length-range", size, size] in policy["conditions"]
    assert kw_lifetime(policy, seen[0]) <= 15 * 60


def kw_lifetime(policy: dict[str, Any], fields: dict[str, str]) -> float:
    from datetime import datetime

    signed = datetime.strptime(fields["x-oss-date"], "%Y%m%dT%H%M%SZ")
    expires = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.000Z")
    return (expires - signed).total_seconds()


@pytest.mark.parametrize("block", [1, 700, 4096, 65_536, 256 * 1024, 1 << 20])
@pytest.mark.parametrize("size", [0, 1, 5_000, 200_000])
def test_form_body_is_the_same_bytes_whatever_the_read_size(tmp_path: Path, size: int,
                                                            block: int) -> None:
    from ossync.targets.form_body import MultipartFileBody

    path = tmp_path / "f.jpg"
    path.write_bytes(os.urandom(size))
    whole = []
    with path.open("rb") as fh:
        body = MultipartFileBody({"key": "k", "policy": "p"}, fh, size, "image/jpeg")
        while piece := body.read(block):
            assert len(piece) <= block
            whole.append(piece)
    data = b"".join(whole)
    assert len(data) == len(body)
    assert f'--{body.boundary}\r\nContent-Disposition: form-data; name="key"'.encode() in data
    assert data.endswith(f"\r\n--{body.boundary}--\r\n".encode())
    assert path.read_bytes() in data
    if len(body) <= block:
        assert len(whole) == 1  # a small photo goes out in one write


@pytest.mark.parametrize("cookie", [False, True])
def test_a_form_post_is_the_request_session_post_would_send(
        target: OssTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        cookie: bool) -> None:
    """post_form skips requests' per-request merging, not anything it would send."""
    from ossync.targets.form_body import MultipartFileBody

    if cookie:  # a load balancer's sticky cookie, say
        target.session.cookies.set("lb", "node-7", domain="127.0.0.1", path="/")
    sent: list[tuple[requests.PreparedRequest, dict[str, Any]]] = []
    monkeypatch.setattr(target.session, "send",
                        lambda prep, **kw: sent.append((prep, kw)) or requests.Response())
    photo = _photo(tmp_path, size=1000)
    with photo.open("rb") as fh:
        body = MultipartFileBody({"key": "k"}, fh, photo.stat().st_size, "image/jpeg")
        target.post_form(body)
        url = target.base_url + "/"
        target.session.post(url, data=body, headers={"Content-Type": body.content_type},
                            timeout=target.timeout, allow_redirects=False)
    (ours, ours_kw), (theirs, theirs_kw) = sent
    assert (ours.method, ours.url, ours.body) == (theirs.method, theirs.url, theirs.body)
    assert list(ours.headers.items()) == list(theirs.headers.items())
    assert ("lb=node-7" in ours.headers.get("Cookie", "")) == cookie
    assert ours_kw == theirs_kw
