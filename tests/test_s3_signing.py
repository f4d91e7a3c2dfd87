"""SigV4 for S3: AWS's published examples, and botocore/boto3 for the same request and time."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials as BotoCredentials

from ossync.core.credentials import Credentials
from ossync.targets.post_policy import PostUpload
from ossync.targets.s3.signing import (
    EMPTY_SHA256,
    amz_date,
    header_auth,
    post_form_fields,
    signature,
)

from .conftest import STS_TOKEN

AWS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
# The policy of AWS's "Example: Browser-Based Upload using HTTP POST (Using AWS Signature
# Version 4)" (sigv4-post-example), base64 exactly as the page gives it (CRLF lines).
AWS_EXAMPLE_POLICY = (
    "eyAiZXhwaXJhdGlvbiI6ICIyMDE1LTEyLTMwVDEyOjAwOjAwLjAwMFoiLA0KICAiY29uZGl0aW9ucyI6IFsNCiAg"
    "ICB7ImJ1Y2tldCI6ICJzaWd2NGV4YW1wbGVidWNrZXQifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRrZXkiLCAi"
    "dXNlci91c2VyMS8iXSwNCiAgICB7ImFjbCI6ICJwdWJsaWMtcmVhZCJ9LA0KICAgIHsic3VjY2Vzc19hY3Rpb25f"
    "cmVkaXJlY3QiOiAiaHR0cDovL3NpZ3Y0ZXhhbXBsZWJ1Y2tldC5zMy5hbWF6b25hd3MuY29tL3N1Y2Nlc3NmdWxf"
    "dXBsb2FkLmh0bWwifSwNCiAgICBbInN0YXJ0cy13aXRoIiwgIiRDb250ZW50LVR5cGUiLCAiaW1hZ2UvIl0sDQog"
    "ICAgeyJ4LWFtei1tZXRhLXV1aWQiOiAiMTQzNjUxMjM2NTEyNzQifSwNCiAgICB7IngtYW16LXNlcnZlci1zaWRl"
    "LWVuY3J5cHRpb24iOiAiQUVTMjU2In0sDQogICAgWyJzdGFydHMtd2l0aCIsICIkeC1hbXotbWV0YS10YWciLCAi"
    "Il0sDQoNCiAgICB7IngtYW16LWNyZWRlbnRpYWwiOiAiQUtJQUlPU0ZPRE5ON0VYQU1QTEUvMjAxNTEyMjkvdXMt"
    "ZWFzdC0xL3MzL2F3czRfcmVxdWVzdCJ9LA0KICAgIHsieC1hbXotYWxnb3JpdGhtIjogIkFXUzQtSE1BQy1TSEEy"
    "NTYifSwNCiAgICB7IngtYW16LWRhdGUiOiAiMjAxNTEyMjlUMDAwMDAwWiIgfQ0KICBdDQp9"
)
AWS_EXAMPLE_SIGNATURE = "8afdbf4008c03f22c2cd3cdb72e4afbb1f6a588f3255ac628749a66d7f09699e"
NOW = datetime(2026, 11, 25, 8, 30, 15, tzinfo=timezone.utc)
REGION = "eu-west-1"


def test_post_signature_matches_the_aws_example() -> None:
    policy = json.loads(base64.b64decode(AWS_EXAMPLE_POLICY))
    assert {"x-amz-date": "20151229T000000Z"} in policy["conditions"]
    assert signature(AWS_SECRET, "20151229", "us-east-1", AWS_EXAMPLE_POLICY) == (
        AWS_EXAMPLE_SIGNATURE)


def test_get_signature_matches_the_aws_example() -> None:
    """AWS's header-auth example: GET /test.txt with `Range: bytes=0-9`, 2013-05-24."""
    headers = header_auth(Credentials(AWS_KEY_ID, AWS_SECRET), method="GET",
                          url="https://examplebucket.s3.amazonaws.com/test.txt",
                          region="us-east-1", now=datetime(2013, 5, 24, tzinfo=timezone.utc),
                          headers={"Range": "bytes=0-9"})
    assert headers["x-amz-content-sha256"] == EMPTY_SHA256
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")


@pytest.fixture
def frozen_botocore(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore signs at NOW (it asks `get_current_datetime` for a naive UTC time)."""
    naive = NOW.replace(tzinfo=None)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: naive)
    monkeypatch.setattr("botocore.signers.get_current_datetime", lambda *a, **k: naive)


@pytest.mark.parametrize("token", [None, STS_TOKEN], ids=["long-term", "sts"])
@pytest.mark.parametrize("key", ["images/2026/11/25/IMG_0001-3fa2b1c9.jpg",
                                 "相册/图 a+b #1 100%.jpg"])
def test_post_form_matches_boto3_for_the_same_policy(frozen_botocore: None, token: str | None,
                                                     key: str) -> None:
    creds = Credentials(AWS_KEY_ID, AWS_SECRET, token)
    ours = post_form_fields(creds, PostUpload("my-bucket", key, 123_456, "image/jpeg"),
                            region=REGION, now=NOW, lifetime=timedelta(minutes=15))
    client = boto3.client("s3", region_name=REGION, aws_access_key_id=AWS_KEY_ID,
                          aws_secret_access_key=AWS_SECRET, aws_session_token=token,
                          config=Config(signature_version="s3v4"))
    extra = {"Content-Type": "image/jpeg", "success_action_status": "204"}
    theirs = client.generate_presigned_post(
        "my-bucket", key, Fields=extra, ExpiresIn=900,
        Conditions=[["content-length-range", 123_456, 123_456],
                    *({k: v} for k, v in extra.items())])["fields"]
    # The same policy (boto3 writes its JSON with other spacing) ...
    assert _decoded(ours["policy"]) == _decoded(theirs["policy"])
    # ... the same signature over the same bytes, and the same form fields.
    assert signature(AWS_SECRET, NOW.strftime("%Y%m%d"), REGION, theirs["policy"]) == (
        theirs["x-amz-signature"])
    assert {k: v for k, v in ours.items() if k not in ("policy", "x-amz-signature")} == {
        k: v for k, v in theirs.items() if k not in ("policy", "x-amz-signature")}
    assert ours["x-amz-signature"] == signature(AWS_SECRET, NOW.strftime("%Y%m%d"), REGION,
                                                ours["policy"])
    assert next(iter(ours)) == "key" and list(ours)[-1] == "x-amz-signature"


def _decoded(policy_b64: str) -> object:
    return json.loads(base64.b64decode(policy_b64))


def test_post_policy_pins_key_size_fields_and_expiry() -> None:
    fields = post_form_fields(Credentials(AWS_KEY_ID, AWS_SECRET, STS_TOKEN),
                              PostUpload("b-1", "k/a.png", 10, "image/png"), region=REGION,
                              now=NOW, lifetime=timedelta(minutes=15))
    policy = _decoded(fields["policy"])
    assert isinstance(policy, dict)
    assert policy["expiration"] == "2026-11-25T08:45:15Z"
    conditions = policy["conditions"]
    assert ["content-length-range", 10, 10] in conditions
    assert {"key": "k/a.png"} in conditions and {"bucket": "b-1"} in conditions
    named = {name for c in conditions if isinstance(c, dict) for name in c}
    # every field sent has a condition, except the two that cannot
    assert set(fields) - {"policy", "x-amz-signature"} <= named
    with pytest.raises(ValueError):
        post_form_fields(Credentials("a", "b"), PostUpload("b-1", "k", 1, "image/png"),
                         region=REGION, now=NOW, lifetime=timedelta(days=8))


def _botocore_authorization(auth_class: type[SigV4Auth], creds: Credentials, method: str,
                            url: str, headers: dict[str, str], body: bytes) -> str:
    boto_creds = BotoCredentials(creds.access_key_id, creds.access_key_secret,
                                 creds.security_token)
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    auth_class(boto_creds, "s3", REGION).add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.parametrize("token", [None, STS_TOKEN], ids=["long-term", "sts"])
@pytest.mark.parametrize(("auth_class", "url"), [
    (SigV4Auth, "https://my-bucket.s3.eu-west-1.amazonaws.com/images/2026/IMG_0001.jpg"),
    (S3SigV4Auth, "https://s3.eu-west-1.amazonaws.com/my-bucket/%E7%9B%B8%E5%86%8C/"
                  "%E5%9B%BE%20a%2Bb%20%231%20100%25.jpg"),
    (S3SigV4Auth, "http://127.0.0.1:9000/my-bucket/a/~tilde_(1).jpg"),
])
def test_put_signature_matches_botocore(frozen_botocore: None, token: str | None,
                                        auth_class: type[SigV4Auth], url: str) -> None:
    body = b"\xff\xd8 not really a jpeg \xff\xd9"
    sha = hashlib.sha256(body).hexdigest()
    creds = Credentials(AWS_KEY_ID, AWS_SECRET, token)
    request_headers = {"Content-Type": "image/jpeg", "If-None-Match": "*",
                       "Content-MD5": base64.b64encode(hashlib.md5(body).digest()).decode()}
    ours = header_auth(creds, method="PUT", url=url, region=REGION, now=NOW,
                       headers=request_headers, payload_sha256=sha)
    assert ours["x-amz-date"] == amz_date(NOW) == "20261125T083015Z"
    theirs = _botocore_authorization(auth_class, creds, "PUT", url,
                                     {**request_headers, "X-Amz-Content-SHA256": sha}, body)
    assert ours["Authorization"] == theirs


def test_head_signature_matches_botocore(frozen_botocore: None) -> None:
    creds = Credentials(AWS_KEY_ID, AWS_SECRET)
    url = "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b.jpg"
    ours = header_auth(creds, method="HEAD", url=url, region=REGION, now=NOW)
    theirs = _botocore_authorization(S3SigV4Auth, creds, "HEAD", url,
                                     {"X-Amz-Content-SHA256": EMPTY_SHA256}, b"")
    assert ours["Authorization"] == theirs


@pytest.mark.parametrize(("method", "query"), [
    ("POST", "uploads"),
    ("PUT", "partNumber=3&uploadId=2~abc%2Fdef"),
    ("POST", "uploadId=2~abc%2Fdef"),
    ("GET", "max-parts=1000&part-number-marker=2&uploadId=2~abc%2Fdef"),
    ("DELETE", "uploadId=2~abc%2Fdef"),
    ("GET", "uploads&prefix=images%2F2026%2F&max-uploads=1000&key-marker=a%20b.tif"),
])
def test_multipart_requests_with_a_query_match_botocore(frozen_botocore: None, method: str,
                                                        query: str) -> None:
    """The query of the multipart requests is canonicalised as botocore does (sorted,
    re-encoded, `uploads` as `uploads=`)."""
    creds = Credentials(AWS_KEY_ID, AWS_SECRET, STS_TOKEN)
    url = f"http://127.0.0.1:9000/my-bucket/dir/%E5%9B%BE%20a%2Bb.tif?{query}"
    headers = {"Content-Type": "application/xml"} if method == "POST" else {}
    ours = header_auth(creds, method=method, url=url, region=REGION, now=NOW, headers=headers)
    theirs = _botocore_authorization(S3SigV4Auth, creds, method, url, dict(headers), b"")
    assert ours["Authorization"] == theirs
