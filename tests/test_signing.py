"""Signing: known-answer vectors, and byte-for-byte agreement with the official SDKs."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
from alibabacloud_oss_v2.credentials import Credentials as SdkCredentials
from alibabacloud_oss_v2.types import HttpRequest, SigningContext

from ossync.core.credentials import Credentials
from ossync.targets.oss.signing import (
    post_form_fields,
    v1_header_auth,
    v1_signature,
    v4_header_auth,
    v4_signature,
)
from ossync.targets.post_policy import PostUpload

T = datetime(2023, 12, 3, 12, 12, 12, tzinfo=timezone.utc)
V1_POLICY = ("eyJleHBpcmF0aW9uIjoiMjAyMy0xMi0wM1QxMzowMDowMC4wMDBaIiwiY29uZGl0aW9ucyI6W3siYnVja"
             "2V0IjoiZXhhbXBsZWJ1Y2tldCJ9LFsiY29udGVudC1sZW5ndGgtcmFuZ2UiLDEsMTA0ODU3NjBdLFsic3"
             "RhcnRzLXdpdGgiLCIka2V5IiwidXNlci9lcmljLyJdXX0=")
V4_POLICY = ("eyJjb25kaXRpb25zIjpbeyJidWNrZXQiOiJleGFtcGxlLWJ1Y2tldCJ9LHsieC1vc3Mtc2lnbmF0dXJlLXZl"
             "cnNpb24iOiJPU1M0LUhNQUMtU0hBMjU2In0seyJ4LW9zcy1jcmVkZW50aWFsIjoiYWNjZXNzX2tleV9pZC8y"
             "MDI0MDcxMy91cy13ZXN0LTEvb3NzL2FsaXl1bl92NF9yZXF1ZXN0In0seyJ4LW9zcy1kYXRlIjoiMjAyNDA3"
             "MTNUMTMzNDE0WiJ9LFsiZXEiLCIka2V5Iiwib2JqZWN0L3ByZXNpZ25fcG9zdF9vYmplY3QucG5nIl0sWyJl"
             "cSIsIiR4LW9zcy1vYmplY3QtYWNsIiwicHJpdmF0ZSJdLFsiY29udGVudC1sZW5ndGgtcmFuZ2UiLDEsMTA0"
             "ODU3NjAwXV0sImV4cGlyYXRpb24iOiIyMDI0LTA3LTEzVDE0OjM0OjE0WiJ9")
KEYS = ["photo.jpg", "camera1/2026/11/25/IMG 0001-3fa2b1c9.jpg", "dir/图 a+b.jpg",
        "odd/%25 #hash ?q=1 ~tilde.png"]


def test_v1_post_signature_known_answer() -> None:
    assert v1_signature("sk", V1_POLICY) == "P8IwY6liPZM+Nj7ma6DRusydd4A="


def test_v4_post_signature_known_answer() -> None:
    assert v4_signature("access_key_secret", "20240713", "us-west-1", V4_POLICY) == (
        "43fb9eb04136cdaaab110bfb33c4c7daba4beebdad63889e7f3a460242596d04")


def _policy(fields: dict[str, str]) -> dict[str, object]:
    decoded: dict[str, object] = json.loads(base64.b64decode(fields["policy"]))
    return decoded


@pytest.mark.parametrize("token", [None, "STS-token-value"])
def test_v4_post_fields_match_sdk_signature(token: str | None) -> None:
    creds = Credentials("AKID", "secret-xyz", token)
    upload = PostUpload("my-bucket", "images/2026/11/25/a-1234abcd.jpg", 1234, "image/jpeg")
    fields = post_form_fields(creds, upload, region="cn-hangzhou", now=T,
                              lifetime=timedelta(minutes=15))
    expected = oss_v2.signer.SignerV4()._calc_signature(
        access_key_secrect="secret-xyz", date="20231203", region="cn-hangzhou",
        product="oss", string_to_sign=fields["policy"])
    assert fields["x-oss-signature"] == expected
    assert fields["x-oss-credential"] == "AKID/20231203/cn-hangzhou/oss/aliyun_v4_request"
    assert fields["x-oss-date"] == "20231203T121212Z"
    assert next(iter(fields)) == "key"
    policy = _policy(fields)
    assert policy["expiration"] == "2023-12-03T12:27:12.000Z"
    conditions = policy["conditions"]
    assert isinstance(conditions, list)
    assert ["eq", "$key", upload.key] in conditions
    assert ["content-length-range", 1234, 1234] in conditions
    assert {"bucket": "my-bucket"} in conditions
    assert ["eq", "$x-oss-forbid-overwrite", "true"] in conditions
    assert ["eq", "$Content-Type", "image/jpeg"] in conditions
    for name in ("x-oss-signature-version", "x-oss-credential", "x-oss-date"):
        assert {name: fields[name]} in conditions
    if token:
        assert fields["x-oss-security-token"] == token
        assert {"x-oss-security-token": token} in conditions
    else:
        assert "x-oss-security-token" not in fields


def test_v1_post_fields_sign_the_policy() -> None:
    creds = Credentials("AKID", "secret-xyz")
    fields = post_form_fields(creds, PostUpload("b-1", "k.png", 10, "image/png"),
                              region="cn-hangzhou", now=T, lifetime=timedelta(hours=1),
                              version=1)
    assert fields["OSSAccessKeyId"] == "AKID"
    assert fields["Signature"] == v1_signature("secret-xyz", fields["policy"])
    assert "x-oss-signature" not in fields
    assert _policy(fields)["expiration"] == "2023-12-03T13:12:12.000Z"


@pytest.mark.parametrize("lifetime", [timedelta(0), timedelta(days=7, seconds=1),
                                      timedelta(hours=-1)])
def test_policy_lifetime_is_bounded(lifetime: timedelta) -> None:
    with pytest.raises(ValueError, match="7 days"):
        post_form_fields(Credentials("a", "b"), PostUpload("bkt", "k", 1, "image/png"),
                         region="cn-hangzhou", now=T, lifetime=lifetime)


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        post_form_fields(Credentials("a", "b"), PostUpload("bkt", "k", 1, "image/png"),
                         region="cn-hangzhou", now=datetime(2024, 1, 1),
                         lifetime=timedelta(minutes=5))


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("method", ["HEAD", "GET", "DELETE"])
@pytest.mark.parametrize("token", [None, "tok-123"])
def test_v4_header_auth_matches_sdk(key: str, method: str, token: str | None) -> None:
    creds = Credentials("AKID", "secret-xyz", token)
    ours = v4_header_auth(creds, method=method, bucket="my-bucket", key=key,
                          region="cn-hangzhou", now=T)
    request = HttpRequest(method, "http://127.0.0.1:9/my-bucket/x")
    ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="my-bucket", key=key,
                         request=request, credentials=SdkCredentials("AKID", "secret-xyz", token),
                         signing_time=T)
    oss_v2.signer.SignerV4().sign(ctx)
    assert ours["Authorization"] == request.headers["Authorization"]
    assert ours["x-oss-date"] == request.headers["x-oss-date"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("token", [None, "tok-123"])
def test_v1_header_auth_matches_oss2(key: str, token: str | None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    creds = Credentials("AKID", "secret-xyz", token)
    ours = v1_header_auth(creds, method="HEAD", bucket="my-bucket", key=key, now=T)
    monkeypatch.setattr(oss2.utils, "http_date", lambda *a: ours["Date"])
    auth = oss2.StsAuth("AKID", "secret-xyz", token) if token else oss2.Auth("AKID", "secret-xyz")
    req = oss2.http.Request("HEAD", "http://127.0.0.1:9/x",
                            headers={"date": ours["Date"]})
    auth._sign_request(req, "my-bucket", key)
    assert ours["Authorization"] == req.headers["authorization"]


def test_credentials_repr_hides_secrets() -> None:
    creds = Credentials("AKID", "very-secret-value", "token-value-xyz")
    assert "very-secret-value" not in repr(creds)
    assert "token-value-xyz" not in repr(creds)
    assert set(creds.secrets()) == {"very-secret-value", "token-value-xyz"}


# --- multipart requests: sub-resources in the query ------------------------------

MULTIPART_REQUESTS = [
    ("POST", {"uploads": ""}, {"Content-Type": "image/tiff", "x-oss-forbid-overwrite": "true"}),
    ("PUT", {"partNumber": "7", "uploadId": "0004B9B2D2F7815C432C9057C031"}, {}),
    ("POST", {"uploadId": "0004B9B2D2F7815C432C9057C031"},
     {"Content-Type": "application/xml", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
      "x-oss-forbid-overwrite": "true"}),
    ("GET", {"uploadId": "0004B9B2D2F7815C432C9057C031", "max-parts": "1000",
             "part-number-marker": "12"}, {}),
    ("DELETE", {"uploadId": "0004B9B2D2F7815C432C9057C031"}, {}),
]


def _url(key: str, query: dict[str, str]) -> str:
    from ossync.core.addressing import object_url, with_query

    return with_query(object_url("http://127.0.0.1:9/my-bucket", key), query)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("method", "query", "headers"), MULTIPART_REQUESTS)
@pytest.mark.parametrize("token", [None, "tok-123"])
def test_v4_multipart_requests_match_sdk(key: str, method: str, query: dict[str, str],
                                         headers: dict[str, str], token: str | None) -> None:
    """The query of InitiateMultipartUpload, UploadPart, Complete, ListParts and Abort is
    signed as the SDK signs it, over the URL we send."""
    creds = Credentials("AKID", "secret-xyz", token)
    ours = v4_header_auth(creds, method=method, bucket="my-bucket", key=key,
                          region="cn-hangzhou", now=T, headers=headers, query=query)
    request = HttpRequest(method, _url(key, query), headers=dict(headers))
    ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="my-bucket", key=key,
                         request=request, credentials=SdkCredentials("AKID", "secret-xyz", token),
                         signing_time=T)
    oss_v2.signer.SignerV4().sign(ctx)
    assert ours["Authorization"] == request.headers["Authorization"]


def test_v4_list_uploads_of_the_bucket_matches_sdk() -> None:
    query = {"uploads": "", "prefix": "images/2026/", "max-uploads": "1000",
             "encoding-type": "url", "key-marker": "images/a b.tif", "upload-id-marker": "0F"}
    creds = Credentials("AKID", "secret-xyz")
    ours = v4_header_auth(creds, method="GET", bucket="my-bucket", key="",
                          region="cn-hangzhou", now=T, query=query)
    from ossync.core.addressing import with_query

    request = HttpRequest("GET", with_query("http://127.0.0.1:9/my-bucket/", query))
    ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="my-bucket",
                         request=request, credentials=SdkCredentials("AKID", "secret-xyz"),
                         signing_time=T)
    oss_v2.signer.SignerV4().sign(ctx)
    assert ours["Authorization"] == request.headers["Authorization"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(("method", "query", "headers"), MULTIPART_REQUESTS)
@pytest.mark.parametrize("token", [None, "tok-123"])
def test_v1_multipart_requests_match_oss2(key: str, method: str, query: dict[str, str],
                                          headers: dict[str, str], token: str | None,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """V1 signs `uploads`, `uploadId` and `partNumber` as sub-resources and leaves
    `max-parts` and markers out, as oss2 does."""
    creds = Credentials("AKID", "secret-xyz", token)
    ours = v1_header_auth(creds, method=method, bucket="my-bucket", key=key, now=T,
                          headers=headers, query=query)
    monkeypatch.setattr(oss2.utils, "http_date", lambda *a: ours["Date"])
    auth = oss2.StsAuth("AKID", "secret-xyz", token) if token else oss2.Auth("AKID", "secret-xyz")
    req = oss2.http.Request(method, "http://127.0.0.1:9/x", params=dict(query),
                            headers={"date": ours["Date"], **headers})
    auth._sign_request(req, "my-bucket", key)
    assert ours["Authorization"] == req.headers["authorization"]
