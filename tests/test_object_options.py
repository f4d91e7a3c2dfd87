"""Object options end to end against the strict local endpoint, read back by someone
else: the official SDKs' HEAD, GetObjectTagging and GetObjectAcl (alibabacloud-oss-v2
for OSS, boto3 for S3); the endpoint's refusals; ListObjectsV2 paging; the local
folder's xattrs; and the values themselves (RFC 6266, percent-encoding, the record)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import alibabacloud_oss_v2 as oss_v2
import boto3
import pytest
import requests
from botocore.config import Config

from ossync.core.credentials import Credentials
from ossync.core.errors import StoreError
from ossync.core.objectopts import (
    ObjectOptions,
    content_disposition,
    header_value,
    parse_tagging_query,
    tag_text,
    tagging_query,
)
from ossync.core.record import ObjectRecord, RecordError, decode, encode, fit
from ossync.localoss import LocalOSS
from ossync.targets.local import LocalTarget
from ossync.targets.multipart import MultipartSettings
from ossync.targets.oss import options as oss_options
from ossync.targets.oss.signing import post_form_fields
from ossync.targets.oss.target import OssTarget
from ossync.targets.post_policy import PostUpload
from ossync.targets.s3.target import S3Target
from tests.conftest import BUCKET, REGION
from tests.oss_sdk import sdk_client

TAGS = (("source", "ossync"), ("folder", "camera 1"))
META = (("ossync-v", "1"), ("project", "archive"))
OSS_OPTIONS = ObjectOptions(storage_class="IA", acl="private", encryption="KMS",
                            kms_key_id="key-1234", cache_control="public, max-age=60",
                            content_disposition='inline; filename="a.jpg"', tags=TAGS,
                            metadata=META)
S3_OPTIONS = ObjectOptions(storage_class="STANDARD_IA", acl="private", encryption="KMS",
                           kms_key_id="key-1234", cache_control="public, max-age=60",
                           content_disposition='inline; filename="a.jpg"', tags=TAGS,
                           metadata=META)
SMALL_PARTS = MultipartSettings(threshold=256 * 1024, part_size=100 * 1024, concurrency=2)


def _file(tmp_path: Path, size: int = 50_000, name: str = "a.jpg") -> Path:
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8" + os.urandom(size - 4) + b"\xff\xd9")
    return path


def _oss(server: LocalOSS, creds: Credentials, **kw: Any) -> OssTarget:
    return OssTarget(endpoint=server.endpoint, bucket=BUCKET, region=REGION,
                     credentials=creds, **kw)


def _s3(server: LocalOSS, creds: Credentials, **kw: Any) -> S3Target:
    return S3Target(endpoint=server.endpoint, bucket=BUCKET, region=REGION, credentials=creds,
                    addressing="path", **kw)


def _boto(server: LocalOSS, creds: Credentials) -> Any:
    return boto3.client("s3", endpoint_url=server.endpoint, region_name=REGION,
                        aws_access_key_id=creds.access_key_id,
                        aws_secret_access_key=creds.access_key_secret,
                        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))


@pytest.fixture
def no_kms(tmp_path: Path, creds: Credentials) -> Iterator[LocalOSS]:
    server = LocalOSS(tmp_path / "no-kms", [BUCKET], creds, region=REGION, kms=False).start()
    try:
        yield server
    finally:
        server.stop()


# --- OSS, read back with alibabacloud-oss-v2 -------------------------------------------


def _sdk_sees_every_option(server: LocalOSS, creds: Credentials, key: str) -> None:
    client = sdk_client(server, creds)
    head = client.head_object(oss_v2.HeadObjectRequest(bucket=BUCKET, key=key))
    assert head.storage_class == "IA"
    assert head.server_side_encryption == "KMS"
    assert head.server_side_encryption_key_id == "key-1234"
    assert head.cache_control == "public, max-age=60"
    assert head.content_disposition == 'inline; filename="a.jpg"'
    assert head.metadata == dict(META)
    assert int(head.tagging_count) == 2
    tags = client.get_object_tagging(oss_v2.GetObjectTaggingRequest(bucket=BUCKET, key=key))
    assert {t.key: t.value for t in tags.tag_set.tags} == dict(TAGS)
    acl = client.get_object_acl(oss_v2.GetObjectAclRequest(bucket=BUCKET, key=key))
    assert acl.acl == "private"


def test_oss_post_sends_every_option_and_owes_the_tags(local_oss: LocalOSS, creds: Credentials,
                                                      tmp_path: Path) -> None:
    target = _oss(local_oss, creds)
    result = target.upload(_file(tmp_path), "opts/a.jpg", content_type="image/jpeg",
                           options=OSS_OPTIONS)
    assert result.tagging_owed  # PostObject takes no tags
    assert target.tags_of("opts/a.jpg") == {}
    target.tag("opts/a.jpg", TAGS)
    _sdk_sees_every_option(local_oss, creds, "opts/a.jpg")
    again = target.upload(tmp_path / "a.jpg", "opts/a.jpg", content_type="image/jpeg",
                          options=OSS_OPTIONS)
    assert again.already_present and again.tagging_owed  # an earlier attempt's object
    info = target.head("opts/a.jpg")
    assert info is not None and info.metadata == dict(META) and info.tag_count == 2
    assert info.storage_class == "IA" and info.encryption == "KMS"


def test_oss_multipart_sends_the_tags_with_initiate(local_oss: LocalOSS, creds: Credentials,
                                                    tmp_path: Path) -> None:
    target = _oss(local_oss, creds, multipart=SMALL_PARTS)
    result = target.upload(_file(tmp_path, 400_000), "opts/big.jpg",
                           content_type="image/jpeg", options=OSS_OPTIONS)
    assert not result.tagging_owed
    _sdk_sees_every_option(local_oss, creds, "opts/big.jpg")


def test_oss_v1_signatures_carry_the_options(local_oss: LocalOSS, creds: Credentials,
                                             tmp_path: Path) -> None:
    target = _oss(local_oss, creds, signature_version=1)
    target.upload(_file(tmp_path), "v1/a.jpg", content_type="image/jpeg", options=OSS_OPTIONS)
    target.tag("v1/a.jpg", TAGS)
    _sdk_sees_every_option(local_oss, creds, "v1/a.jpg")


def test_kms_refused_is_one_line_naming_the_option(no_kms: LocalOSS, creds: Credentials,
                                                   tmp_path: Path) -> None:
    with pytest.raises(StoreError) as caught:
        _oss(no_kms, creds).upload(_file(tmp_path), "k.jpg", content_type="image/jpeg",
                                   options=OSS_OPTIONS)
    err = caught.value
    assert err.code == "KmsServiceNotEnabled" and not err.retryable
    assert "\n" not in str(err) and "server_side_encryption" in str(err)
    with pytest.raises(StoreError) as s3_caught:
        _s3(no_kms, creds, method="put").upload(_file(tmp_path), "k.jpg",
                                                content_type="image/jpeg", options=S3_OPTIONS)
    assert "server_side_encryption: KMS is not enabled" in str(s3_caught.value)


# --- the endpoint refuses what OSS refuses, and what is not pinned ---------------------


def _post(server: LocalOSS, fields: dict[str, str]) -> requests.Response:
    return requests.post(f"{server.endpoint}/{BUCKET}/", data=fields, timeout=10,
                         files={"file": ("a.jpg", b"data", "image/jpeg")})


def _form(creds: Credentials, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
    from datetime import datetime, timedelta, timezone
    return post_form_fields(creds, PostUpload(BUCKET, "f.jpg", 4, "image/jpeg", extra),
                            region=REGION, now=datetime.now(timezone.utc),
                            lifetime=timedelta(minutes=5))


def _code(resp: requests.Response) -> str:
    return resp.text.split("<Code>", 1)[1].split("</Code>", 1)[0]


@pytest.mark.parametrize("field", ["x-oss-meta-project", "x-oss-storage-class",
                                   "Cache-Control", "Content-Disposition", "x-oss-object-acl"])
def test_an_option_field_the_policy_does_not_pin_is_refused(local_oss: LocalOSS,
                                                            creds: Credentials,
                                                            field: str) -> None:
    value = {"x-oss-storage-class": "IA", "x-oss-object-acl": "private"}.get(field, "v")
    resp = _post(local_oss, {**_form(creds), field: value})
    assert (resp.status_code, _code(resp)) == (403, "AccessDenied")
    assert "no exact condition" in resp.text
    assert _post(local_oss, _form(creds, ((field, value),))).status_code == 200


def test_post_refuses_tags_and_values_oss_does_not_take(local_oss: LocalOSS,
                                                        creds: Credentials) -> None:
    resp = _post(local_oss, _form(creds, (("x-oss-tagging", "a=b"),)))
    assert (resp.status_code, _code(resp)) == (400, "InvalidArgument")
    assert "cannot be specified in PostObject" in resp.text
    resp = _post(local_oss, _form(creds, (("x-oss-storage-class", "GLACIER"),)))
    assert (resp.status_code, _code(resp)) == (400, "InvalidStorageClass")
    resp = _post(local_oss, _form(creds, (("x-oss-server-side-encryption", "aws:kms"),)))
    assert (resp.status_code, _code(resp)) == (400, "InvalidEncryptionAlgorithmError")
    resp = _post(local_oss, _form(creds, (("x-oss-meta-big", "v" * 9000),)))
    assert (resp.status_code, _code(resp)) == (400, "MetadataTooLarge")


# --- S3, read back with boto3 ------------------------------------------------------------


@pytest.mark.parametrize("method", ["post", "put"])
def test_s3_sends_every_option_with_the_object(local_oss: LocalOSS, creds: Credentials,
                                               tmp_path: Path, method: str) -> None:
    target = _s3(local_oss, creds, method=method)
    result = target.upload(_file(tmp_path), f"{method}/a.jpg", content_type="image/jpeg",
                           options=S3_OPTIONS)
    assert not result.tagging_owed
    _boto_sees_every_option(local_oss, creds, f"{method}/a.jpg")


def test_s3_multipart_sends_the_options_with_create(local_oss: LocalOSS, creds: Credentials,
                                                   tmp_path: Path) -> None:
    settings = MultipartSettings(threshold=6 * 1024 * 1024, part_size=5 * 1024 * 1024)
    target = _s3(local_oss, creds, multipart=settings)
    target.upload(_file(tmp_path, 6 * 1024 * 1024 + 10), "mp/a.jpg", content_type="image/jpeg",
                  options=S3_OPTIONS)
    _boto_sees_every_option(local_oss, creds, "mp/a.jpg")


def _boto_sees_every_option(server: LocalOSS, creds: Credentials, key: str) -> None:
    client = _boto(server, creds)
    head = client.head_object(Bucket=BUCKET, Key=key)
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == "key-1234"
    assert head["CacheControl"] == "public, max-age=60"
    assert head["ContentDisposition"] == 'inline; filename="a.jpg"'
    assert head["Metadata"] == dict(META)
    tags = client.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    assert {t["Key"]: t["Value"] for t in tags} == dict(TAGS)
    client.close()


# --- the local folder keeps what applies -------------------------------------------------


def test_local_target_keeps_metadata_and_tags_in_an_xattr(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    target = LocalTarget(store)
    target.upload(_file(tmp_path), "x/a.jpg", content_type="image/jpeg", options=OSS_OPTIONS)
    info = target.head("x/a.jpg")
    assert info is not None and info.metadata == dict(META) and info.tag_count == 2
    assert info.headers == {"cache-control": "public, max-age=60",
                            "content-disposition": 'inline; filename="a.jpg"'}
    assert info.storage_class is None and info.encryption is None  # a folder has neither
    target.tag("x/a.jpg", (("only", "one"),))
    assert target.tags_of("x/a.jpg") == {"only": "one"}
    assert not [p for p in store.rglob("*") if p.is_file() and p.name != "a.jpg"]  # no sidecar
    page = target.list_page("", None)
    assert [o.key for o in page.objects] == ["x/a.jpg"] and page.token is None


# --- ListObjectsV2 ---------------------------------------------------------------------------

ODD_KEYS = ["a/1.jpg", "a/2.jpg", "a/b/3.jpg", "b/图 a+b.jpg", "b/%25 #?.jpg", "c/ctl\x01.jpg",
            "c/z.jpg"]


@pytest.fixture
def listed(local_oss: LocalOSS, creds: Credentials) -> LocalOSS:
    client = sdk_client(local_oss, creds)
    for key in ODD_KEYS:
        client.put_object(oss_v2.PutObjectRequest(bucket=BUCKET, key=key, body=b"x"))
    return local_oss


def test_our_listing_pages_through_every_key(listed: LocalOSS, creds: Credentials,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ossync.targets.reading.MAX_KEYS", 2)
    for target in (_oss(listed, creds), _oss(listed, creds, signature_version=1),
                   _s3(listed, creds)):
        keys, token, pages = [], None, 0
        while True:
            page = target.list_page("", token)
            keys += [o.key for o in page.objects]
            pages += 1
            token = page.token
            if token is None:
                break
        assert keys == sorted(ODD_KEYS) and pages == 4
        assert [o.key for o in target.list_page("a/", None).objects] == ["a/1.jpg", "a/2.jpg"]


def test_the_sdks_page_through_the_listing(listed: LocalOSS, creds: Credentials) -> None:
    client = sdk_client(listed, creds)
    paginator = client.list_objects_v2_paginator(limit=3)
    keys = [o.key for page in paginator.iter_page(oss_v2.ListObjectsV2Request(
        bucket=BUCKET, encoding_type="url")) for o in page.contents or []]
    assert keys == sorted(ODD_KEYS)
    boto = _boto(listed, creds)
    pages = boto.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, PaginationConfig={"PageSize": 3}, EncodingType="url")
    # botocore leaves keys encoded when the caller asked for url encoding itself
    assert [unquote(o["Key"]) for p in pages for o in p.get("Contents", [])] == sorted(
        ODD_KEYS)
    shallow = boto.list_objects_v2(Bucket=BUCKET, Delimiter="/", StartAfter="a/2.jpg")
    assert [p["Prefix"] for p in shallow["CommonPrefixes"]] == ["b/", "c/"]
    boto.close()


def test_a_continuation_token_not_ours_is_refused(listed: LocalOSS, creds: Credentials) -> None:
    with pytest.raises(StoreError) as caught:
        _oss(listed, creds).list_page("", "bm90LWEtdG9rZW4=")
    assert caught.value.code == "InvalidArgument"


# --- the values -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("a.jpg", 'inline; filename="a.jpg"'),
    ("图 a.jpg", "inline; filename=\"_ a.jpg\"; filename*=UTF-8''%E5%9B%BE%20a.jpg"),
    ('say "hi".jpg', "inline; filename=\"say _hi_.jpg\"; filename*=UTF-8''say%20%22hi%22.jpg"),
    ("caf\udce9.jpg", "inline; filename=\"caf_.jpg\"; filename*=UTF-8''caf%EF%BF%BD.jpg"),
])
def test_content_disposition_follows_rfc_6266(name: str, expected: str) -> None:
    assert content_disposition('inline; filename="{name}"', {"name": name}) == expected


def test_header_values_and_tags_are_encoded_both_ways() -> None:
    assert header_value("plain text") == "plain text"
    assert header_value("图") == "%E5%9B%BE" and header_value("100%") == "100%25"
    assert header_value("caf\udce9") == "caf%E9"
    query = tagging_query((("a b", "c&d=e"), ("图", "")))
    assert parse_tagging_query(query) == {"a b": "c&d=e", "图": ""}
    assert tag_text("x<y>\n" + "z" * 300, 256) == "x_y__" + "z" * 251


def test_the_record_round_trips_any_name() -> None:
    record = ObjectRecord(sha256="a" * 64, size=10, crc64=2**64 - 1, folder="相机 1",
                          host="scanner-3", mtime_ns=1_700_000_000_123_456_789,
                          path="sub/caf\udce9 #1%.jpg", abspath="/srv/drop/sub/x.jpg",
                          taken="2026-11-25T08:30:15+08:00", sent_sha256="b" * 64,
                          sent_crc64=5, strip="location")
    meta = dict(record.metadata())
    assert all(v.isascii() and v.isprintable() for v in meta.values())
    assert meta["ossync-path"] == "sub/caf%E9%20%231%25.jpg"
    assert ObjectRecord.from_metadata(meta) == record
    assert ObjectRecord.from_metadata({"project": "x"}) is None  # foreign
    with pytest.raises(RecordError, match="version"):
        ObjectRecord.from_metadata({**meta, "ossync-v": "9"})
    with pytest.raises(RecordError, match="SHA-256"):
        ObjectRecord.from_metadata({**meta, "ossync-sha256": "nope"})
    assert decode(encode("\udcff/x y")) == "\udcff/x y"


def test_a_record_over_the_budget_gives_up_its_paths_first() -> None:
    record = ObjectRecord(sha256="a" * 64, size=1, crc64=1, folder="f", host="h", mtime_ns=1,
                          path="p" * 1500, abspath="/" + "q" * 1500).metadata()
    items, dropped = fit(record, [("project", "x")], 2048)
    assert dropped == ["ossync-abspath"] and ("project", "x") in items
    items, dropped = fit(record, [("big", "y" * 1000)], 2048)
    assert dropped == ["ossync-abspath", "ossync-path"]
    with pytest.raises(ValueError, match="shorten metadata"):
        fit(record, [("big", "y" * 3000)], 2048)


def test_oss_option_fields_name_no_tags() -> None:
    assert "x-oss-tagging" not in dict(oss_options.form_fields(OSS_OPTIONS))
    assert oss_options.headers(OSS_OPTIONS)["x-oss-tagging"] == "source=ossync&folder=camera%201"
