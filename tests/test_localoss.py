"""The local OSS endpoint: a real server on 127.0.0.1:0, real HTTP, strict checks.

Forms are built with `ossync.targets.oss.signing`; the server verifies with the official
SDK's code, and the SDK's own client is used as an independent second client.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import logging
import os
import queue
import random
import re
import signal
import string
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote
from xml.etree import ElementTree

import alibabacloud_oss_v2 as oss
import pytest
import requests
import urllib3

from ossync.core.crc64 import crc64
from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.localoss.auth import Verifier
from ossync.localoss.request import SignedRequest
from ossync.localoss.responses import OSSError
from ossync.targets.oss.signing import (
    post_form_fields,
    v1_header_auth,
    v4_header_auth,
    v4_signature,
)
from ossync.targets.post_policy import PostUpload, encode_policy

REGION = "cn-hangzhou"
BUCKET = "photos"
CREDS = Credentials("LTAI5tLocalTestKeyId", "local-secret-Zq8x1")
_rng = random.Random(7)
TOKEN = "CAIS" + "".join(_rng.choice(string.ascii_letters + string.digits + "+/")
                         for _ in range(1400))  # STS tokens are 1-2 KB
STS = Credentials("STS.NTestTempKey", "sts-secret-Kk2p9", TOKEN)
TIMEOUT = 10


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def server(root: Path) -> Iterator[LocalOSS]:
    srv = LocalOSS(root, [BUCKET], CREDS, region=REGION).start()
    try:
        yield srv
    finally:
        srv.stop()


def form(creds: Credentials, key: str, data: bytes, *, version: int = 4,
         now: datetime | None = None, **kwargs: Any) -> dict[str, str]:
    return post_form_fields(creds, PostUpload(BUCKET, key, len(data), "image/jpeg"),
                            region=kwargs.pop("region", REGION), now=now or utcnow(),
                            lifetime=kwargs.pop("lifetime", timedelta(minutes=10)),
                            version=version, **kwargs)


def post(srv: LocalOSS, fields: dict[str, str], data: bytes) -> requests.Response:
    return requests.post(f"{srv.endpoint}/{BUCKET}/", data=fields, timeout=TIMEOUT,
                         files={"file": ("photo.jpg", io.BytesIO(data), "image/jpeg")})


def upload(srv: LocalOSS, key: str, data: bytes, creds: Credentials = CREDS,
           **kwargs: Any) -> requests.Response:
    return post(srv, form(creds, key, data, **kwargs), data)


def signed(srv: LocalOSS, method: str, key: str, creds: Credentials = CREDS, *,
           version: int = 4, query: dict[str, str] | None = None) -> requests.Response:
    if version == 4:
        headers = v4_header_auth(creds, method=method, bucket=BUCKET, key=key, region=REGION,
                                 now=utcnow(), query=query)
    else:
        headers = v1_header_auth(creds, method=method, bucket=BUCKET, key=key, now=utcnow())
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in (query or {}).items())
    url = f"{srv.endpoint}/{BUCKET}/{quote(key, safe='/')}" + (f"?{qs}" if qs else "")
    return requests.request(method, url, headers=headers, timeout=TIMEOUT)


def raw_get(srv: LocalOSS, key: str) -> bytes:
    """GET with the path sent verbatim: requests/urllib3 drop `.`/`..` path segments."""
    headers = v4_header_auth(CREDS, method="GET", bucket=BUCKET, key=key, region=REGION,
                             now=utcnow())
    host, port = srv.endpoint.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
    try:
        conn.request("GET", f"/{BUCKET}/{quote(key, safe='/')}", headers=headers)
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()
        return resp.read()
    finally:
        conn.close()


def code(resp: requests.Response) -> str:
    return ElementTree.fromstring(resp.content).findtext("Code") or ""


def message(resp: requests.Response) -> str:
    return ElementTree.fromstring(resp.content).findtext("Message") or ""


def etag_of(data: bytes) -> str:
    return '"' + hashlib.md5(data).hexdigest().upper() + '"'


def signed_v4_form(policy: Mapping[str, object], key: str, now: datetime,
                   creds: Credentials = CREDS) -> dict[str, str]:
    """A V4 form around a hand-made policy (for expired / malformed / partial policies)."""
    day = now.strftime("%Y%m%d")
    policy_b64 = encode_policy(policy)
    return {"key": key, "policy": policy_b64, "x-oss-signature-version": "OSS4-HMAC-SHA256",
            "x-oss-credential": f"{creds.access_key_id}/{day}/{REGION}/oss/aliyun_v4_request",
            "x-oss-date": now.strftime("%Y%m%dT%H%M%SZ"),
            "x-oss-signature": v4_signature(creds.access_key_secret, day, REGION, policy_b64)}


def v4_conditions(fields: dict[str, str]) -> list[dict[str, str]]:
    return [{name: fields[name]} for name in
            ("x-oss-signature-version", "x-oss-credential", "x-oss-date")]


# --- PostObject ----------------------------------------------------------------


@pytest.mark.parametrize("version", [4, 1])
def test_post_lands_byte_identical(server: LocalOSS, version: int) -> None:
    data = os.urandom(300_000)
    resp = upload(server, "2024/07/IMG_0001.jpg", data, version=version)
    assert resp.status_code == 200, resp.text
    assert resp.headers["ETag"] == etag_of(data)
    assert int(resp.headers["x-oss-hash-crc64ecma"]) == crc64(data)
    assert re.fullmatch(r"[0-9A-F]{24}", resp.headers["x-oss-request-id"])
    got = signed(server, "GET", "2024/07/IMG_0001.jpg", version=version)
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["ETag"] == etag_of(data)
    assert int(got.headers["x-oss-hash-crc64ecma"]) == crc64(data)
    assert got.headers["Content-Type"] == "image/jpeg"
    assert got.headers["Last-Modified"].endswith("GMT")


def test_success_action_status_201_returns_post_response(server: LocalOSS) -> None:
    data = b"jpeg bytes"
    resp = upload(server, "a.jpg", data, success_action_status=201)
    assert resp.status_code == 201
    doc = ElementTree.fromstring(resp.content)
    assert doc.tag == "PostResponse"
    assert (doc.findtext("Bucket"), doc.findtext("Key")) == (BUCKET, "a.jpg")
    assert doc.findtext("ETag") == etag_of(data)
    assert upload(server, "b.jpg", data, success_action_status=204).status_code == 204


def test_sts_token_is_required_and_checked(root: Path) -> None:
    data = b"x" * 100
    with LocalOSS(root, [BUCKET], STS, region=REGION) as srv:
        no_token = Credentials(STS.access_key_id, STS.access_key_secret)
        resp = upload(srv, "k1.jpg", data, no_token)
        assert (resp.status_code, code(resp)) == (403, "InvalidAccessKeyId")
        wrong = Credentials(STS.access_key_id, STS.access_key_secret, TOKEN[:-1] + "A")
        resp = upload(srv, "k2.jpg", data, wrong)
        assert (resp.status_code, code(resp)) == (403, "InvalidSecurityToken")
        fields = form(STS, "k3.jpg", data)
        assert sum(len(k) + len(v) for k, v in fields.items()) > 4096  # realistic size
        assert post(srv, fields, data).status_code == 200
        assert upload(srv, "k4.jpg", data, STS, version=1).status_code == 200
        assert signed(srv, "HEAD", "k3.jpg", STS).status_code == 200
        assert signed(srv, "HEAD", "k3.jpg", no_token).status_code == 403
    with LocalOSS(root, [BUCKET], CREDS, region=REGION) as srv:
        token_sent = Credentials(CREDS.access_key_id, CREDS.access_key_secret, TOKEN)
        resp = upload(srv, "k5.jpg", data, token_sent)
        assert (resp.status_code, code(resp)) == (403, "InvalidSecurityToken")


@pytest.mark.parametrize("version", [4, 1])
def test_wrong_secret_is_signature_mismatch(server: LocalOSS, version: int) -> None:
    bad = Credentials(CREDS.access_key_id, "not-the-secret")
    resp = upload(server, "a.jpg", b"data", bad, version=version)
    assert (resp.status_code, code(resp)) == (403, "SignatureDoesNotMatch")
    assert signed(server, "HEAD", "a.jpg").status_code == 404  # nothing stored


@pytest.mark.parametrize("version", [4, 1])
def test_wrong_access_key_id(server: LocalOSS, version: int) -> None:
    bad = Credentials("LTAI5tSomebodyElse", CREDS.access_key_secret)
    resp = upload(server, "a.jpg", b"data", bad, version=version)
    assert (resp.status_code, code(resp)) == (403, "InvalidAccessKeyId")


def test_wrong_region_or_day_in_credential(server: LocalOSS) -> None:
    resp = upload(server, "a.jpg", b"data", region="cn-beijing")
    assert (resp.status_code, code(resp)) == (400, "InvalidArgument")
    assert message(resp) == "The signing region in credential is invalid."
    fields = form(CREDS, "a.jpg", b"data")
    day = fields["x-oss-date"][:8]
    yesterday = (utcnow() - timedelta(days=1)).strftime("%Y%m%d")
    fields["x-oss-credential"] = fields["x-oss-credential"].replace(f"/{day}/", f"/{yesterday}/")
    resp = post(server, fields, b"data")
    assert (resp.status_code, code(resp)) == (400, "InvalidArgument")


def test_form_field_limits(server: LocalOSS) -> None:
    fields = form(CREDS, "a.jpg", b"data")
    resp = post(server, {**fields, "x-oss-meta-big": "v" * (2 * 1024 * 1024 + 1)}, b"data")
    assert (resp.status_code, code(resp)) == (400, "InvalidArgument")
    note = (("x-oss-meta-note", "v" * 8000),)  # within OSS's 8 KB of user metadata
    pinned = post_form_fields(CREDS, PostUpload(BUCKET, "a.jpg", 4, "image/jpeg", note),
                              region=REGION, now=utcnow(), lifetime=timedelta(minutes=10))
    assert post(server, pinned, b"data").status_code == 200


def test_expired_policy_is_access_denied(server: LocalOSS) -> None:
    resp = upload(server, "a.jpg", b"data", version=1, now=utcnow() - timedelta(hours=2),
                  lifetime=timedelta(hours=1))
    assert (resp.status_code, code(resp)) == (403, "AccessDenied")
    assert message(resp) == "Invalid according to Policy: Policy expired."
    now = utcnow()
    fields = signed_v4_form({}, "b.jpg", now)
    policy = {"expiration": "2020-01-01T00:00:00Z", "conditions": v4_conditions(fields)}
    resp = post(server, signed_v4_form(policy, "b.jpg", now), b"data")
    assert resp.status_code == 403
    assert message(resp) == "Invalid according to Policy: Policy expired."


def test_tampered_policy_is_signature_mismatch(server: LocalOSS) -> None:
    data = b"data"
    fields = form(CREDS, "mine.jpg", data)
    policy = json.loads(base64.b64decode(fields["policy"]))
    policy["conditions"] = [["eq", "$key", "theirs.jpg"] if c == ["eq", "$key", "mine.jpg"]
                            else c for c in policy["conditions"]]
    fields.update(key="theirs.jpg", policy=encode_policy(policy))
    resp = post(server, fields, data)
    assert (resp.status_code, code(resp)) == (403, "SignatureDoesNotMatch")


def test_key_outside_policy_is_access_denied(server: LocalOSS) -> None:
    data = b"data"
    fields = form(CREDS, "allowed.jpg", data)
    fields["key"] = "elsewhere.jpg"
    resp = post(server, fields, data)
    assert (resp.status_code, code(resp)) == (403, "AccessDenied")
    assert message(resp) == ('Invalid according to Policy: Policy Condition failed: '
                             '["eq", "$key", "allowed.jpg"]')


@pytest.mark.parametrize(("sent", "expected"), [(b"x" * 11, "EntityTooLarge"),
                                                (b"x" * 9, "EntityTooSmall")])
def test_content_length_range(server: LocalOSS, sent: bytes, expected: str) -> None:
    resp = post(server, form(CREDS, "a.jpg", b"x" * 10), sent)
    assert (resp.status_code, code(resp)) == (400, expected)
    assert signed(server, "HEAD", "a.jpg").status_code == 404


def test_forbid_overwrite(server: LocalOSS) -> None:
    assert upload(server, "a.jpg", b"first").status_code == 200
    resp = upload(server, "a.jpg", b"second")
    assert (resp.status_code, code(resp)) == (409, "FileAlreadyExists")
    assert signed(server, "GET", "a.jpg").content == b"first"
    assert upload(server, "a.jpg", b"third", forbid_overwrite=False).status_code == 200
    assert signed(server, "GET", "a.jpg").content == b"third"


def test_forbid_overwrite_value_must_be_boolean(server: LocalOSS) -> None:
    now = utcnow()
    fields = signed_v4_form({}, "a.jpg", now)
    fields["x-oss-forbid-overwrite"] = "yes"
    policy = {"expiration": "2099-01-01T00:00:00.000Z", "conditions": v4_conditions(fields)}
    resp = post(server, {**signed_v4_form(policy, "a.jpg", now), "x-oss-forbid-overwrite": "yes"},
                b"data")
    assert (resp.status_code, code(resp)) == (400, "InvalidArgument")


def test_skewed_x_oss_date(server: LocalOSS) -> None:
    resp = upload(server, "a.jpg", b"data", now=utcnow() - timedelta(minutes=20),
                  lifetime=timedelta(hours=1))
    assert (resp.status_code, code(resp)) == (403, "RequestTimeTooSkewed")


def test_v4_policy_must_pin_signature_fields(server: LocalOSS) -> None:
    now = utcnow()
    fields = signed_v4_form({}, "a.jpg", now)
    partial = [c for c in v4_conditions(fields) if "x-oss-date" not in c]
    policy = {"expiration": "2099-01-01T00:00:00.000Z", "conditions": partial}
    resp = post(server, signed_v4_form(policy, "a.jpg", now), b"data")
    assert (resp.status_code, code(resp)) == (403, "AccessDenied")
    full = {"expiration": "2099-01-01T00:00:00.000Z", "conditions": v4_conditions(fields)}
    assert post(server, signed_v4_form(full, "a.jpg", now), b"data").status_code == 204


def test_malformed_policy(server: LocalOSS) -> None:
    now = utcnow()
    fields = signed_v4_form({}, "a.jpg", now)
    fields["policy"] = base64.b64encode(b'{"expiration": oops').decode()
    day = now.strftime("%Y%m%d")
    fields["x-oss-signature"] = v4_signature(CREDS.access_key_secret, day, REGION,
                                             fields["policy"])
    resp = post(server, fields, b"data")
    assert (resp.status_code, code(resp)) == (400, "InvalidPolicyDocument")


def test_missing_key_field(server: LocalOSS) -> None:
    fields = form(CREDS, "a.jpg", b"data")
    del fields["key"]
    resp = post(server, fields, b"data")
    assert (resp.status_code, code(resp)) == (400, "InvalidArgument")


def test_file_must_be_the_last_field(server: LocalOSS) -> None:
    data = b"data"
    fields: list[tuple[str, Any]] = [*form(CREDS, "a.jpg", data).items()]
    file_part = ("file", ("a.jpg", data, "image/jpeg"))
    for parts, expected in (([*fields, file_part, ("x-oss-meta-late", "1")],
                             "MalformedPOSTRequest"),  # a valid form, then one more field
                            ([*fields[:2], file_part, *fields[2:]], "AccessDenied")):
        body, content_type = urllib3.encode_multipart_formdata(parts)
        resp = requests.post(f"{server.endpoint}/{BUCKET}/", data=body, timeout=TIMEOUT,
                             headers={"Content-Type": content_type})
        assert (resp.status_code // 100, code(resp)) == (4, expected)
        assert signed(server, "HEAD", "a.jpg").status_code == 404


def test_unknown_bucket(server: LocalOSS) -> None:
    resp = requests.post(f"{server.endpoint}/nope/", data=form(CREDS, "a.jpg", b"d"),
                         files={"file": ("a", b"d")}, timeout=TIMEOUT)
    assert (resp.status_code, code(resp)) == (404, "NoSuchBucket")


def test_verifier_accepts_published_vectors() -> None:
    """The official doc's worked examples (see /work/shared/PROTOCOL.md), no server needed."""
    when = datetime(2023, 12, 3, 12, 12, 12, tzinfo=timezone.utc)
    host = "examplebucket.oss-cn-hangzhou.aliyuncs.com"
    headers = {"host": host, "content-md5": "eB5eJF1ptWaXm4bijSPyxw", "content-type": "text/html",
               "x-oss-meta-author": "alice", "x-oss-meta-magic": "abracadabra",
               "x-oss-date": "20231203T121212Z", "x-oss-content-sha256": "UNSIGNED-PAYLOAD",
               "authorization": "OSS4-HMAC-SHA256 Credential=accesskeyid/20231203/cn-hangzhou/"
               "oss/aliyun_v4_request,AdditionalHeaders=host,Signature=4b663e424d2db9967401ff6"
               "ce1c86f8c83cabd77d9908475239d9110642c63fa"}
    verifier = Verifier(Credentials("accesskeyid", "accesskeysecret"), "cn-hangzhou")
    put = SignedRequest("PUT", "examplebucket", "exampleobject", [], headers, host)
    verifier.verify_request(put, when, public_read=False)
    with pytest.raises(OSSError, match="SignatureDoesNotMatch"):
        verifier.verify_request(SignedRequest("PUT", "examplebucket", "exampleobjecT", [],
                                              headers, host), when, public_read=False)
    v1_policy = ("eyJleHBpcmF0aW9uIjoiMjAyMy0xMi0wM1QxMzowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3si"
                 "YnVja2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LFsiY29udGVudC1sZW5ndGgtcmFuZ2UiLDEsMTA0ODU3"
                 "NjBdLFsic3RhcnRzLXdpdGgiLCIka2V5IiwidXNlci9lcmljLyJdXX0=")
    v1 = Verifier(Credentials("ak", "sk"), "cn-hangzhou")
    assert v1.verify_post({"policy": v1_policy, "ossaccesskeyid": "ak",
                           "signature": "P8IwY6liPZM+Nj7ma6DRusydd4A="}, when) == v1_policy


# --- header-signed requests ---------------------------------------------------------


@pytest.mark.parametrize("version", [4, 1])
def test_header_signed_operations(server: LocalOSS, version: int) -> None:
    for key in ("dir/a.jpg", "dir/b.jpg", "other.jpg"):
        assert upload(server, key, key.encode()).status_code == 200
    head = signed(server, "HEAD", "dir/a.jpg", version=version)
    assert (head.status_code, head.headers["Content-Length"]) == (200, "9")
    listing = signed(server, "GET", "", version=version, query={"prefix": "dir/"})
    assert listing.status_code == 200, listing.text
    doc = ElementTree.fromstring(listing.content)
    assert [k.text for k in doc.iter("Key")] == ["dir/a.jpg", "dir/b.jpg"]
    assert signed(server, "DELETE", "dir/a.jpg", version=version).status_code == 204
    assert signed(server, "DELETE", "dir/a.jpg", version=version).status_code == 204
    gone = signed(server, "GET", "dir/a.jpg", version=version)
    assert (gone.status_code, code(gone)) == (404, "NoSuchKey")
    bad = Credentials(CREDS.access_key_id, "wrong")
    for method, key in (("GET", "other.jpg"), ("DELETE", "other.jpg"), ("GET", "")):
        resp = signed(server, method, key, bad, version=version)
        assert (resp.status_code, code(resp)) == (403, "SignatureDoesNotMatch")
    assert signed(server, "HEAD", "other.jpg", bad, version=version).status_code == 403
    assert signed(server, "GET", "other.jpg", version=version).content == b"other.jpg"


def test_listing_pages_and_delimiter(server: LocalOSS) -> None:
    for key in ("a/1", "a/2", "b/1", "c", "d"):
        assert upload(server, key, b"x").status_code == 200
    page = ElementTree.fromstring(
        signed(server, "GET", "", query={"delimiter": "/", "max-keys": "2"}).content)
    assert [p.text for p in page.iter("Prefix")][1:] == ["a/", "b/"]
    assert page.findtext("IsTruncated") == "true"
    assert page.findtext("NextMarker") == "b/"
    rest = ElementTree.fromstring(signed(server, "GET", "", query={
        "delimiter": "/", "marker": "b/"}).content)
    assert [k.text for k in rest.iter("Key")] == ["c", "d"]
    assert rest.findtext("IsTruncated") == "false"
    assert upload(server, "图 a+b/%1.jpg", b"x").status_code == 200
    odd = signed(server, "GET", "", query={"prefix": "图 a+b/", "encoding-type": "url"})
    assert odd.status_code == 200, odd.text
    assert [k.text for k in ElementTree.fromstring(odd.content).iter("Key")] == [
        quote("图 a+b/%1.jpg", safe="/")]


def test_anonymous_reads_need_public_read(root: Path) -> None:
    with LocalOSS(root, [BUCKET], CREDS, region=REGION) as srv:
        assert upload(srv, "pub.jpg", b"public").status_code == 200
        resp = requests.get(f"{srv.endpoint}/{BUCKET}/pub.jpg", timeout=TIMEOUT)
        assert (resp.status_code, code(resp)) == (403, "AccessDenied")
    with LocalOSS(root, [BUCKET], CREDS, region=REGION, public_read=True) as srv:
        resp = requests.get(f"{srv.endpoint}/{BUCKET}/pub.jpg", timeout=TIMEOUT)
        assert (resp.status_code, resp.content) == (200, b"public")
        resp = requests.delete(f"{srv.endpoint}/{BUCKET}/pub.jpg", timeout=TIMEOUT)
        assert (resp.status_code, code(resp)) == (403, "AccessDenied")


def test_put_object_checks_content_md5(server: LocalOSS) -> None:
    data = b"put body"
    good = base64.b64encode(hashlib.md5(data).digest()).decode()
    url = f"{server.endpoint}/{BUCKET}/put.jpg"
    for md5, status in ((base64.b64encode(b"0" * 16).decode(), 400), (good, 200)):
        headers = {"Content-MD5": md5, "Content-Type": "image/jpeg"}
        headers.update(v4_header_auth(CREDS, method="PUT", bucket=BUCKET, key="put.jpg",
                                      region=REGION, now=utcnow(), headers=headers))
        resp = requests.put(url, data=data, headers=headers, timeout=TIMEOUT)
        assert resp.status_code == status
        if status == 400:
            assert code(resp) == "InvalidDigest"
    assert signed(server, "GET", "put.jpg").content == data


# --- the official SDK as an independent client -----------------------------------------


def sdk_client(srv: LocalOSS, creds: Credentials) -> Any:
    cfg = oss.config.load_default()
    cfg.credentials_provider = oss.credentials.StaticCredentialsProvider(
        creds.access_key_id, creds.access_key_secret, creds.security_token)
    cfg.region = REGION
    cfg.endpoint = srv.endpoint
    cfg.use_path_style = True
    cfg.retry_max_attempts = 1
    return oss.Client(cfg)


def test_official_sdk_client(root: Path) -> None:
    key = "sdk/图 片 a+b%#?.png"
    data = os.urandom(5000)
    with LocalOSS(root, [BUCKET], STS, region=REGION) as srv:
        client = sdk_client(srv, STS)
        put = client.put_object(oss.PutObjectRequest(bucket=BUCKET, key=key, body=data,
                                                     content_type="image/png"))
        assert put.status_code == 200
        assert put.etag == etag_of(data)
        got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key=key))
        assert got.body.read() == data
        assert got.content_type == "image/png"
        head = client.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key))
        assert (head.content_length, head.hash_crc64) == (len(data), str(crc64(data)))
        listing = client.list_objects(oss.ListObjectsRequest(bucket=BUCKET, prefix="sdk/"))
        assert [o.key for o in listing.contents] == [key]
        # a form from our signer, read back by the SDK
        assert upload(srv, "sdk/posted.jpg", b"posted", STS).status_code == 200
        got = client.get_object(oss.GetObjectRequest(bucket=BUCKET, key="sdk/posted.jpg"))
        assert got.body.read() == b"posted"
        wrong = sdk_client(srv, Credentials(STS.access_key_id, "wrong", TOKEN))
        with pytest.raises(oss.exceptions.OperationError) as info:
            wrong.head_object(oss.HeadObjectRequest(bucket=BUCKET, key=key))
        assert "SignatureDoesNotMatch" in str(info.value)
        with pytest.raises(oss.exceptions.OperationError):
            wrong.put_object(oss.PutObjectRequest(bucket=BUCKET, key="x", body=b"x"))
        assert client.delete_object(
            oss.DeleteObjectRequest(bucket=BUCKET, key=key)).status_code == 204
        assert signed(srv, "HEAD", key, STS).status_code == 404


# --- storage ---------------------------------------------------------------------------


def test_objects_survive_a_restart(root: Path) -> None:
    data = b"persisted" * 50
    with LocalOSS(root, [BUCKET], CREDS, region=REGION) as srv:
        assert upload(srv, "keep/me.jpg", data).status_code == 200
        before = signed(srv, "HEAD", "keep/me.jpg").headers
    with LocalOSS(root, [BUCKET], CREDS, region=REGION) as srv:
        after = signed(srv, "GET", "keep/me.jpg")
        assert after.content == data
        for name in ("ETag", "x-oss-hash-crc64ecma", "Content-Type", "Last-Modified"):
            assert after.headers[name] == before[name]
        resp = upload(srv, "keep/me.jpg", b"again")
        assert (resp.status_code, code(resp)) == (409, "FileAlreadyExists")


@pytest.mark.parametrize("key", ["dir/图片 a+b%20c#d?e=f&g.jpg", "a//b/./c", "100% 好.png",
                                 "x" * 1023, "é" * 511])
def test_awkward_keys_round_trip(server: LocalOSS, key: str) -> None:
    data = key.encode()
    assert upload(server, key, data).status_code == 200
    if "./" in key:
        assert raw_get(server, key) == data
    else:
        assert signed(server, "GET", key).content == data
        assert signed(server, "GET", key, version=1).content == data
    doc = ElementTree.fromstring(signed(server, "GET", "").content)
    assert [k.text for k in doc.iter("Key")] == [key]


@pytest.mark.parametrize("key", ["x" * 1024, "/lead", "\\lead", "é" * 512])
def test_invalid_keys_are_refused(server: LocalOSS, key: str) -> None:
    resp = upload(server, key, b"data")
    assert (resp.status_code, code(resp)) == (400, "InvalidObjectName")


def test_dot_dot_keys_stay_inside_root(root: Path, tmp_path: Path) -> None:
    keys = ["../escape.jpg", "../../../../etc/x", "a/../../b", "..", "..\\..\\win"]
    with LocalOSS(root, [BUCKET], CREDS, region=REGION) as srv:
        for key in keys:
            assert upload(srv, key, key.encode()).status_code == 200, key
            assert raw_get(srv, key) == key.encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["root"]
    assert sorted(p.name for p in root.iterdir()) == [BUCKET]
    every = [p.resolve() for p in root.rglob("*")]
    assert all(p.is_relative_to(root.resolve()) for p in every)
    assert len([p for p in every if p.suffix == ".data"]) == len(keys)


# --- concurrency -------------------------------------------------------------------------


def test_concurrent_uploads_all_land(server: LocalOSS) -> None:
    blobs = {f"batch/{i:02d}.jpg": os.urandom(20_000 + i) for i in range(20)}
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda kv: upload(server, *kv).status_code, blobs.items()))
    assert statuses == [200] * 20
    for key, data in blobs.items():
        assert signed(server, "GET", key).content == data


def test_forbid_overwrite_race_has_one_winner(server: LocalOSS) -> None:
    for round_ in range(5):
        key = f"race/{round_}.jpg"
        datas = [os.urandom(50_000), os.urandom(50_000)]
        forms = [form(CREDS, key, d) for d in datas]
        gate = threading.Barrier(2)

        def send(i: int, forms: list[dict[str, str]] = forms,
                 datas: list[bytes] = datas, gate: threading.Barrier = gate) -> int:
            gate.wait(timeout=TIMEOUT)
            return post(server, forms[i], datas[i]).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = list(pool.map(send, [0, 1]))
        assert sorted(statuses) == [200, 409]
        winner = datas[statuses.index(200)]
        assert signed(server, "GET", key).content == winner


# --- lifecycle, CLI, secrets ---------------------------------------------------------------


def test_stop_is_idempotent_and_closes_keepalive_connections(root: Path) -> None:
    srv = LocalOSS(root, [BUCKET], CREDS, region=REGION).start()
    session = requests.Session()
    try:
        headers = v4_header_auth(CREDS, method="GET", bucket=BUCKET, key="", region=REGION,
                                 now=utcnow())
        assert session.get(f"{srv.endpoint}/{BUCKET}/", headers=headers,
                           timeout=TIMEOUT).status_code == 200
        assert [t for t in threading.enumerate() if t.name == "localoss-conn"]  # kept alive
    finally:
        srv.stop()
        srv.stop()
        session.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("localoss")]
    with pytest.raises(RuntimeError):
        srv.endpoint  # noqa: B018 (the property raises once stopped)


def _env(creds: Credentials | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSS_")}
    if creds:
        env.update(OSS_ACCESS_KEY_ID=creds.access_key_id,
                   OSS_ACCESS_KEY_SECRET=creds.access_key_secret)
        if creds.security_token:
            env["OSS_SESSION_TOKEN"] = creds.security_token
    return env


def test_cli_subprocess_serves_and_stops_on_sigterm(root: Path) -> None:
    cmd = [sys.executable, "-m", "ossync.localoss", "--root", str(root), "--port", "0",
           "--bucket", BUCKET, "--bucket", "other"]
    proc = subprocess.Popen(cmd, env=_env(STS), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines: queue.Queue[str] = queue.Queue()
        assert proc.stdout is not None
        stdout = proc.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        line = lines.get(timeout=20)
        match = re.fullmatch(r"local-oss: serving bucket\(s\) photos, other at "
                             r"(http://127\.0\.0\.1:(\d+))/photos/, \1/other/ \(root (.+)\)\n",
                             line)
        assert match, line
        assert match.group(3) == str(root.resolve())
        endpoint = match.group(1)
        data = b"via the cli"
        resp = requests.post(f"{endpoint}/{BUCKET}/", data=form(STS, "cli.jpg", data),
                             files={"file": ("f", data, "image/jpeg")}, timeout=TIMEOUT)
        assert resp.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        err = proc.stderr.read() if proc.stderr else ""
        assert STS.access_key_secret not in err and TOKEN not in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        for pipe in (proc.stdout, proc.stderr):
            if pipe:
                pipe.close()
    assert (root / BUCKET / "objects").is_dir()


def test_cli_without_credentials_exits_78(root: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "ossync.localoss", "--root", str(root),
                           "--bucket", BUCKET], env=_env(None), capture_output=True,
                          text=True, timeout=30)
    assert proc.returncode == 78
    assert "OSS_ACCESS_KEY_ID" in proc.stderr and "OSS_ACCESS_KEY_SECRET" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_no_secret_in_logs_or_errors(root: Path, caplog: pytest.LogCaptureFixture,
                                     capfd: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG, logger="ossync.localoss")
    bodies: list[str] = []
    with LocalOSS(root, [BUCKET], STS, region=REGION) as srv:
        fields = form(STS, "a.jpg", b"data")
        bodies.append(post(srv, fields, b"data").text)
        bodies.append(post(srv, {**fields, "key": "b.jpg"}, b"data").text)  # condition fails
        bodies.append(upload(srv, "c.jpg", b"data", Credentials(
            STS.access_key_id, STS.access_key_secret, TOKEN + "x")).text)
        bodies.append(signed(srv, "GET", "a.jpg", Credentials(
            STS.access_key_id, "wrong", TOKEN)).text)
        bodies.append(signed(srv, "GET", "a.jpg", STS).text)
    out, err = capfd.readouterr()
    assert "local-oss: POST /photos/" in caplog.text  # logging is on, so the check means something
    for secret in (STS.access_key_secret, TOKEN, TOKEN[:40], "wrong"):
        assert secret not in caplog.text
        assert secret not in out + err
    for body in bodies[1:4]:
        assert TOKEN[:40] not in body and STS.access_key_secret not in body
