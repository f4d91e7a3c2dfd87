"""One suite, every target: OSS (local endpoint), S3 by POST and by PUT (moto's server and
the local endpoint's SigV4 side), and a local directory. Then the S3 target's own cases."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.localoss import LocalOSS
from ossync.targets import KeyTaken, Target
from ossync.targets.local import LocalTarget
from ossync.targets.oss.target import OssTarget
from ossync.targets.post_policy import PostUpload
from ossync.targets.s3.signing import post_form_fields
from ossync.targets.s3.target import S3Target

from .conftest import BUCKET, REGION, SECRET
from .s3_servers import MOTO_REGION, Moto, moto  # noqa: F401  (a fixture)

# Started before any test's thread-leak check takes its snapshot (session scope first).
pytestmark = pytest.mark.usefixtures("moto")
TARGETS = ["oss", "s3-post-moto", "s3-put-moto", "s3-post-local", "s3-put-local", "local"]
ODD_KEYS = ["相册/图 a+b #1.jpg", "odd/100% ?&=;'\"quote(1)!*.jpg", "emoji/😀 smile.jpg",
            "deep/a/b/c/d/e/f.jpg", "tilde/~user_name-x.y.jpg"]


@dataclass
class Case:
    """A target under test, how to read an object back from its store, and how to build
    another one (with a public URL base)."""

    name: str
    build: Callable[[str | None], Target]
    fetch: Callable[[str], bytes]
    made: list[Target] = field(default_factory=list)

    def make(self, public_url: str | None = None) -> Target:
        target = self.build(public_url)
        self.made.append(target)
        return target


def _from_local_oss(server: LocalOSS) -> Callable[[str], bytes]:
    def fetch(key: str) -> bytes:
        opened = server.app.buckets[BUCKET].open(key)
        assert opened is not None, f"no object {key!r}"
        with opened[1] as fh:
            return fh.read()
    return fetch


def _case(name: str, request: pytest.FixtureRequest, tmp_path: Path,
          creds: Credentials) -> Case:
    if name == "local":
        root = tmp_path / "www"
        root.mkdir()
        return Case(name, lambda public: LocalTarget(root, base_url=public),
                    lambda key: root.joinpath(*key.split("/")).read_bytes())
    if name.endswith("-moto"):
        server: Moto = request.getfixturevalue("moto")
        bucket = server.new_bucket()
        return Case(name, lambda public: S3Target(
            endpoint=server.endpoint, bucket=bucket, region=MOTO_REGION,
            credentials=Credentials("moto", "moto"), method=name.split("-")[1],
            public_url=public), lambda key: server.fetch(bucket, key))
    local: LocalOSS = request.getfixturevalue("local_oss")
    if name == "oss":
        return Case(name, lambda public: OssTarget(
            endpoint=local.endpoint, bucket=BUCKET, region=REGION, credentials=creds,
            public_url=public), _from_local_oss(local))
    return Case(name, lambda public: S3Target(
        endpoint=local.endpoint, bucket=BUCKET, region=REGION, credentials=creds,
        addressing="path", method=name.split("-")[1], public_url=public),
        _from_local_oss(local))


@pytest.fixture(params=TARGETS)
def case(request: pytest.FixtureRequest, tmp_path: Path, creds: Credentials) -> Iterator[Case]:
    built = _case(request.param, request, tmp_path, creds)
    try:
        yield built
    finally:
        for target in built.made:
            target.close()


def _photo(tmp_path: Path, name: str = "a.jpg", size: int = 300_000) -> Path:
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(size) + b"\xff\xd9")
    return path


# --- the shared suite ------------------------------------------------------------------


def test_upload_lands_byte_identical(case: Case, tmp_path: Path) -> None:
    target = case.make()
    photo = _photo(tmp_path)
    key = "images/2026/11/25/IMG_0001-3fa2b1c9.jpg"
    result = target.upload(photo, key, content_type="image/jpeg")
    data = photo.read_bytes()
    assert case.fetch(key) == data
    assert (result.key, result.size, result.crc64) == (key, len(data), crc64(data))
    assert not result.already_present and result.url == target.url_for(key)
    info = target.head(key)
    assert info is not None and info.size == len(data)
    assert target.head("images/no/such/key.jpg") is None


def test_unicode_and_odd_keys(case: Case, tmp_path: Path) -> None:
    target = case.make()
    for i, key in enumerate(ODD_KEYS):
        photo = _photo(tmp_path, f"{i}.jpg", 5_000 + i)
        result = target.upload(photo, key, content_type="image/jpeg")
        assert case.fetch(key) == photo.read_bytes(), key
        assert result.url.endswith("/" + quote(key, safe="/")), result.url
        info = target.head(key)
        assert info is not None and info.size == photo.stat().st_size


def test_different_content_is_never_overwritten(case: Case, tmp_path: Path) -> None:
    target = case.make()
    first, second = _photo(tmp_path, "1.jpg"), _photo(tmp_path, "2.jpg")
    target.upload(first, "k/clash.jpg", content_type="image/jpeg")
    with pytest.raises(KeyTaken):
        target.upload(second, "k/clash.jpg", content_type="image/jpeg")
    assert case.fetch("k/clash.jpg") == first.read_bytes()


def test_a_retry_recognises_its_own_object(case: Case, tmp_path: Path) -> None:
    target = case.make()
    photo = _photo(tmp_path)
    first = target.upload(photo, "k/again.jpg", content_type="image/jpeg")
    again = case.make().upload(photo, "k/again.jpg", content_type="image/jpeg")
    assert again.already_present
    assert (again.size, again.crc64, again.url) == (first.size, first.crc64, first.url)
    assert case.fetch("k/again.jpg") == photo.read_bytes()


def test_delete_removes_the_object(case: Case, tmp_path: Path) -> None:
    target = case.make()
    target.upload(_photo(tmp_path), "k/gone.jpg", content_type="image/jpeg")
    target.delete("k/gone.jpg")
    assert target.head("k/gone.jpg") is None
    target.delete("k/gone.jpg")  # deleting nothing is fine


def test_urls_use_the_public_base(case: Case) -> None:
    target = case.make("https://cdn.example.com/img/")
    assert target.url_for("相册/a b.jpg") == "https://cdn.example.com/img/%E7%9B%B8%E5%86%8C/a%20b.jpg"


# --- S3 only ---------------------------------------------------------------------------


def _s3(server: LocalOSS, creds: Credentials, **kw: object) -> S3Target:
    return S3Target(endpoint=server.endpoint, bucket=BUCKET, region=REGION, credentials=creds,
                    addressing="path", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["post", "put"])
def test_s3_wrong_secret_needs_a_person(local_oss: LocalOSS, tmp_path: Path,
                                        method: str) -> None:
    target = _s3(local_oss, Credentials("LTAI5tOssyncTestKey01", "wrong"), method=method)
    try:
        with pytest.raises(StoreError) as info:
            target.upload(_photo(tmp_path), "k/denied.jpg", content_type="image/jpeg")
    finally:
        target.close()
    assert not info.value.retryable
    assert info.value.code in ("SignatureDoesNotMatch", "AccessDenied")
    assert "AWS_SECRET_ACCESS_KEY" in info.value.hint


@pytest.mark.parametrize("method", ["post", "put"])
def test_s3_clock_minutes_off_is_corrected(local_oss: LocalOSS, creds: Credentials,
                                           tmp_path: Path, method: str) -> None:
    target = _s3(local_oss, creds, method=method)
    target.clock_offset = timedelta(minutes=-40)
    try:
        result = target.upload(_photo(tmp_path), "k/skew.jpg", content_type="image/jpeg")
    finally:
        target.close()
    assert abs(target.clock_offset) < timedelta(seconds=5) and result.key == "k/skew.jpg"


def test_s3_put_without_if_none_match_looks_first(local_oss: LocalOSS, creds: Credentials,
                                                  tmp_path: Path) -> None:
    target = _s3(local_oss, creds, method="put", if_none_match=False)
    try:
        first = _photo(tmp_path, "1.jpg")
        target.upload(first, "k/look.jpg", content_type="image/jpeg")
        assert target.upload(first, "k/look.jpg", content_type="image/jpeg").already_present
        with pytest.raises(KeyTaken):
            target.upload(_photo(tmp_path, "2.jpg"), "k/look.jpg", content_type="image/jpeg")
    finally:
        target.close()


def _post(server: LocalOSS, fields: dict[str, str], data: bytes) -> requests.Response:
    return requests.post(f"{server.endpoint}/{BUCKET}/", data=fields,
                         files={"file": ("a.jpg", data, "image/jpeg")}, timeout=10)


def _form(creds: Credentials, size: int, *, now: datetime | None = None,
          lifetime: timedelta = timedelta(minutes=15)) -> dict[str, str]:
    return post_form_fields(creds, PostUpload(BUCKET, "k/form.jpg", size, "image/jpeg"),
                            region=REGION, now=now or datetime.now(timezone.utc),
                            lifetime=lifetime)


@pytest.mark.parametrize(("change", "status", "code"), [
    ("nothing", 204, None),
    ("wrong secret", 403, "SignatureDoesNotMatch"),
    ("tampered policy", 403, "SignatureDoesNotMatch"),
    ("other key", 403, "AccessDenied"),
    ("unnamed field", 403, "AccessDenied"),
    ("expired", 403, "AccessDenied"),
    ("too large", 400, "EntityTooLarge"),
    ("too small", 400, "EntityTooSmall"),
])
def test_local_endpoint_checks_sigv4_posts(local_oss: LocalOSS, creds: Credentials,
                                           change: str, status: int, code: str | None) -> None:
    data = b"\xff\xd8" + os.urandom(1000)
    fields = _form(creds, len(data))
    if change == "wrong secret":
        fields = _form(Credentials(creds.access_key_id, "not-" + SECRET), len(data))
    elif change == "tampered policy":
        fields["policy"] = _form(creds, len(data) + 1)["policy"]
    elif change == "other key":
        fields["key"] = "k/other.jpg"
    elif change == "unnamed field":
        fields["x-amz-meta-note"] = "not in the policy"
    elif change == "expired":
        fields = _form(creds, len(data), now=datetime.now(timezone.utc) - timedelta(minutes=10),
                       lifetime=timedelta(minutes=5))
    elif change in ("too large", "too small"):
        data = data + b"x" if change == "too large" else data[:-1]
    resp = _post(local_oss, fields, data)
    assert resp.status_code == status, resp.text
    if code:
        assert f"<Code>{code}</Code>" in resp.text
    else:
        assert local_oss.app.buckets[BUCKET].head("k/form.jpg") is not None


@pytest.mark.parametrize("method", ["post", "put"])
def test_s3_session_token_is_sent_and_checked(tmp_path: Path, sts_creds: Credentials,
                                              method: str) -> None:
    with LocalOSS(tmp_path / "root", [BUCKET], sts_creds, region=REGION) as server:
        good = _s3(server, sts_creds, method=method)
        bare = _s3(server, Credentials(sts_creds.access_key_id, SECRET), method=method)
        try:
            good.upload(_photo(tmp_path), "k/sts.jpg", content_type="image/jpeg")
            with pytest.raises(StoreError):
                bare.upload(_photo(tmp_path, "b.jpg"), "k/bare.jpg", content_type="image/jpeg")
        finally:
            good.close()
            bare.close()


# --- local only ------------------------------------------------------------------------


def test_local_leaves_no_temp_files_and_refuses_escaping_keys(tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    target = LocalTarget(root)
    photo = _photo(tmp_path)
    target.upload(photo, "a/b.jpg", content_type="image/jpeg")
    with pytest.raises(KeyTaken):
        target.upload(_photo(tmp_path, "other.jpg"), "a/b.jpg", content_type="image/jpeg")
    assert [p.name for p in root.rglob("*")] == ["a", "b.jpg"]
    for key in ("../escape.jpg", "/abs.jpg", "a/./b.jpg", "a//b.jpg"):
        with pytest.raises(StoreError) as info:
            target.upload(photo, key, content_type="image/jpeg")
        assert not info.value.retryable
    assert not (tmp_path / "escape.jpg").exists()
    assert target.url_for("a/b c.jpg") == (root / "a" / "b c.jpg").as_uri()
