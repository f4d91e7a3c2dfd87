"""The object options' fields and headers, signed as the official SDKs sign them: every
option pinned in the POST policy by an exact condition (OSS and S3), and the headers of
InitiateMultipartUpload, PutObject and PutObjectTagging (`x-oss-meta-*`, `x-oss-tagging`,
`x-amz-*`) signed byte for byte as alibabacloud-oss-v2, oss2 and botocore sign them."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta

import alibabacloud_oss_v2 as oss_v2
import boto3
import oss2
import pytest
from alibabacloud_oss_v2.credentials import Credentials as SdkCredentials
from alibabacloud_oss_v2.types import HttpRequest, SigningContext
from botocore.auth import S3SigV4Auth
from botocore.config import Config

from ossync.core.addressing import with_query
from ossync.core.credentials import Credentials
from ossync.core.objectopts import ObjectOptions, tagging_xml
from ossync.targets.oss import options as oss_options
from ossync.targets.oss.signing import post_form_fields, v1_header_auth, v4_header_auth
from ossync.targets.post_policy import PostUpload
from ossync.targets.s3 import options as s3_options
from ossync.targets.s3.signing import header_auth
from ossync.targets.s3.signing import post_form_fields as s3_post_form_fields
from ossync.targets.s3.signing import signature as s3_signature
from tests.test_s3_signing import (  # noqa: F401 - frozen_botocore is a fixture
    AWS_KEY_ID,
    AWS_SECRET,
    NOW,
    _botocore_authorization,
    frozen_botocore,
)
from tests.test_signing import T

OPTIONS = ObjectOptions(
    storage_class="IA", acl="private", encryption="KMS", kms_key_id="key-1234",
    cache_control="public, max-age=31536000, immutable",
    content_disposition="inline; filename=\"a.jpg\"",
    tags=(("source", "ossync"), ("folder", "camera 1/α")),
    metadata=(("ossync-v", "1"), ("ossync-path", "camera1/%E5%9B%BE%20a.jpg"),
              ("project", "archive")))
S3_OPTIONS = ObjectOptions(**{**OPTIONS.__dict__, "storage_class": "STANDARD_IA"})


def _policy(fields: dict[str, str]) -> list[object]:
    conditions: list[object] = json.loads(base64.b64decode(fields["policy"]))["conditions"]
    return conditions


@pytest.mark.parametrize("version", [1, 4])
def test_every_oss_option_is_sent_and_pinned_exactly(version: int) -> None:
    extra = oss_options.form_fields(OPTIONS)
    fields = post_form_fields(Credentials("AKID", "secret-xyz", "tok"),
                              PostUpload("my-bucket", "k.jpg", 10, "image/jpeg", extra),
                              region="cn-hangzhou", now=T, lifetime=timedelta(minutes=15),
                              version=version)
    conditions = _policy(fields)
    for name, value in extra:
        assert fields[name] == value
        assert ["eq", f"${name}", value] in conditions
    assert "x-oss-tagging" not in fields  # PostObject takes no tags: they are owed
    assert {n for n, _ in extra} >= {"x-oss-storage-class", "x-oss-object-acl",
                                     "x-oss-server-side-encryption",
                                     "x-oss-server-side-encryption-key-id", "Cache-Control",
                                     "Content-Disposition", "x-oss-meta-ossync-v"}
    if version == 4:
        expected = oss_v2.signer.SignerV4()._calc_signature(
            access_key_secrect="secret-xyz", date="20231203", region="cn-hangzhou",
            product="oss", string_to_sign=fields["policy"])
        assert fields["x-oss-signature"] == expected


def test_a_field_ossync_sets_itself_cannot_be_an_option() -> None:
    with pytest.raises(ValueError, match="sets itself"):
        post_form_fields(Credentials("a", "b"),
                         PostUpload("b", "k", 1, "image/png", (("key", "other"),)),
                         region="cn-hangzhou", now=T, lifetime=timedelta(minutes=5))


@pytest.mark.parametrize(("method", "query", "headers"), [
    ("POST", {"uploads": ""}, {"Content-Type": "image/tiff", **oss_options.headers(OPTIONS),
                               "x-oss-forbid-overwrite": "true"}),
    ("PUT", {"tagging": ""}, {"Content-Type": "application/xml", "Content-MD5": base64.b64encode(
        hashlib.md5(tagging_xml(OPTIONS.tags)).digest()).decode()}),
    ("GET", {"tagging": ""}, {}),
    ("GET", {"list-type": "2", "prefix": "camera1/", "max-keys": "1000",
             "encoding-type": "url", "continuation-token": "bG9jYWw6YQ=="}, {}),
])
@pytest.mark.parametrize("token", [None, "tok-123"])
def test_v4_option_headers_are_signed_as_the_sdk_signs_them(
        method: str, query: dict[str, str], headers: dict[str, str], token: str | None) -> None:
    key = "" if "list-type" in query else "dir/图 a+b.tif"
    creds = Credentials("AKID", "secret-xyz", token)
    ours = v4_header_auth(creds, method=method, bucket="my-bucket", key=key,
                          region="cn-hangzhou", now=T, headers=headers, query=query)
    url = with_query("http://127.0.0.1:9/my-bucket/x", query)
    request = HttpRequest(method, url, headers=dict(headers))
    ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="my-bucket",
                         key=key or None, request=request,
                         credentials=SdkCredentials("AKID", "secret-xyz", token),
                         signing_time=T)
    oss_v2.signer.SignerV4().sign(ctx)
    assert ours["Authorization"] == request.headers["Authorization"]


@pytest.mark.parametrize(("method", "params"), [("POST", {"uploads": ""}),
                                                ("PUT", {"tagging": ""})])
def test_v1_option_headers_are_signed_as_oss2_signs_them(
        method: str, params: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    headers = {"Content-Type": "image/tiff", **oss_options.headers(OPTIONS)}
    ours = v1_header_auth(Credentials("AKID", "secret-xyz"), method=method, bucket="my-bucket",
                          key="a/b.tif", now=T, headers=headers, query=params)
    monkeypatch.setattr(oss2.utils, "http_date", lambda *a: ours["Date"])
    req = oss2.http.Request(method, "http://127.0.0.1:9/x", params=params,
                            headers={**headers, "date": ours["Date"]})
    oss2.Auth("AKID", "secret-xyz")._sign_request(req, "my-bucket", "a/b.tif")
    assert ours["Authorization"] == req.headers["authorization"]


@pytest.mark.usefixtures("frozen_botocore")
@pytest.mark.parametrize("token", [None, "session-token"])
def test_s3_post_with_options_matches_boto3(token: str | None) -> None:
    creds = Credentials(AWS_KEY_ID, AWS_SECRET, token)
    extra = s3_options.form_fields(S3_OPTIONS)
    ours = s3_post_form_fields(creds, PostUpload("my-bucket", "k.jpg", 99, "image/jpeg", extra),
                               region="eu-west-1", now=NOW, lifetime=timedelta(minutes=15))
    fields = {"Content-Type": "image/jpeg", "success_action_status": "204", **dict(extra)}
    client = boto3.client("s3", region_name="eu-west-1", aws_access_key_id=AWS_KEY_ID,
                          aws_secret_access_key=AWS_SECRET, aws_session_token=token,
                          config=Config(signature_version="s3v4"))
    theirs = client.generate_presigned_post(
        "my-bucket", "k.jpg", Fields=fields, ExpiresIn=900,
        Conditions=[["content-length-range", 99, 99], *({k: v} for k, v in fields.items())]
    )["fields"]
    assert json.loads(base64.b64decode(ours["policy"])) == json.loads(
        base64.b64decode(theirs["policy"]))
    assert ours["x-amz-signature"] == s3_signature(AWS_SECRET, "20261125", "eu-west-1",
                                                   ours["policy"])
    assert {k: v for k, v in ours.items() if k not in ("policy", "x-amz-signature")} == {
        k: v for k, v in theirs.items() if k not in ("policy", "x-amz-signature")}
    assert ours["tagging"].startswith("<Tagging><TagSet><Tag><Key>source</Key>")
    assert ours["x-amz-server-side-encryption"] == "aws:kms"


@pytest.mark.usefixtures("frozen_botocore")
def test_s3_put_with_option_headers_matches_botocore() -> None:
    body = b"\xff\xd8 jpeg \xff\xd9"
    sha = hashlib.sha256(body).hexdigest()
    creds = Credentials(AWS_KEY_ID, AWS_SECRET)
    url = "https://s3.eu-west-1.amazonaws.com/my-bucket/%E5%9B%BE%20a.jpg"
    headers = {"Content-Type": "image/jpeg", **s3_options.headers(S3_OPTIONS)}
    assert headers["x-amz-tagging"] == "source=ossync&folder=camera%201%2F%CE%B1"
    ours = header_auth(creds, method="PUT", url=url, region="eu-west-1", now=NOW,
                       headers=headers, payload_sha256=sha)
    theirs = _botocore_authorization(S3SigV4Auth, creds, "PUT", url,
                                     {**headers, "X-Amz-Content-SHA256": sha}, body)
    assert ours["Authorization"] == theirs
