"""Forms apps send themselves (`ossync.targets.direct`), posted to the strict local endpoint
the way `wx.uploadFile` posts them (the form's fields, then the file as the last part,
from `requests`, a client no one on the team wrote): OSS V4 and V1, STS keys, S3 SigV4,
object options pinned; the object lands byte for byte under exactly the key."""

from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from ossync.core.credentials import Credentials
from ossync.core.objectopts import ObjectOptions
from ossync.localoss import LocalOSS
from ossync.localoss.sts import StsIssuer
from ossync.targets.direct import DirectForm, FormRequest
from ossync.targets.oss.direct import OssForms
from ossync.targets.s3.direct import S3Forms

from .conftest import BUCKET, REGION

PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(20_000) + b"\xff\xd9"
HOUR = timedelta(hours=1)


def wx_upload(form: DirectForm, data: bytes, name: str = "tmp_4f2a.jpg",
              kind: str = "image/jpeg") -> requests.Response:
    """What `wx.uploadFile({url, filePath, name: 'file', formData})` sends: one
    multipart form, formData's fields first, the file part (named `file`) last."""
    return requests.post(form.url, data=form.fields, files={"file": (name, data, kind)},
                         headers={"User-Agent": "Mozilla/5.0 MicroMessenger/8.0 miniProgram"},
                         timeout=10)


def stored(server: LocalOSS, key: str) -> tuple[bytes, str]:
    found = server.app.buckets[BUCKET].open(key)
    assert found is not None, key
    meta, data = found
    with data:
        return data.read(), meta.content_type


def _now() -> datetime:
    return datetime.now(timezone.utc)


@pytest.mark.parametrize("version", [4, 1])
def test_an_oss_form_lands_byte_for_byte(local_oss: LocalOSS, creds: Credentials,
                                         version: int) -> None:
    forms = OssForms(endpoint=local_oss.endpoint, bucket=BUCKET, region=REGION,
                     signature_version=version)
    key = f"app/2026/12/06/IMG_0001-v{version}.jpg"
    form = forms.form(creds, FormRequest(key, len(PHOTO), "image/jpeg"), now=_now(),
                      lifetime=timedelta(minutes=10))
    assert form.url == f"{local_oss.endpoint}/{BUCKET}/"
    assert form.fields["key"] == key and form.fields["success_action_status"] == "200"
    assert form.fields["x-oss-forbid-overwrite"] == "true"
    answer = wx_upload(form, PHOTO, kind="application/octet-stream")
    assert answer.status_code == 200, answer.text
    assert stored(local_oss, key) == (PHOTO, "image/jpeg")  # the pinned type, not the part's
    again = wx_upload(form, PHOTO)
    assert again.status_code == 409  # a form writes its object once, never over it


def test_an_oss_form_with_sts_keys_carries_the_token(tmp_path: Path, creds: Credentials
                                                     ) -> None:
    sts = StsIssuer()
    with LocalOSS(tmp_path / "oss", [BUCKET], creds, region=REGION, sts=sts) as server:
        temporary = sts.issue(timedelta(minutes=30))
        forms = OssForms(endpoint=server.endpoint, bucket=BUCKET, region=REGION)
        form = forms.form(temporary, FormRequest("app/sts.jpg", len(PHOTO), "image/jpeg"),
                          now=_now(), lifetime=timedelta(minutes=10))
        assert form.fields["x-oss-security-token"] == temporary.security_token
        assert wx_upload(form, PHOTO).status_code == 200
        assert stored(server, "app/sts.jpg")[0] == PHOTO


def test_options_and_the_callback_are_pinned(local_oss: LocalOSS, creds: Credentials) -> None:
    forms = OssForms(endpoint=local_oss.endpoint, bucket=BUCKET, region=REGION)
    options = ObjectOptions(storage_class="IA", cache_control="max-age=60",
                            metadata=(("source", "app"),), tags=(("kept", "no"),))
    callback = base64.b64encode(json.dumps({"callbackUrl": "http://127.0.0.1:9/x",
                                            "callbackBody": "a=${object}"}).encode()).decode()
    form = forms.form(creds, FormRequest("app/opts.jpg", 10, "image/png", options, callback),
                      now=_now(), lifetime=HOUR)
    policy = json.loads(base64.b64decode(form.fields["policy"]))
    exact = {c[1][1:]: c[2] for c in policy["conditions"] if isinstance(c, list) and
             c[0] == "eq"}
    assert exact["x-oss-storage-class"] == "IA" and exact["x-oss-meta-source"] == "app"
    assert exact["Cache-Control"] == "max-age=60" and exact["callback"] == callback
    assert exact["Content-Type"] == "image/png" and exact["key"] == "app/opts.jpg"
    assert ["content-length-range", 10, 10] in policy["conditions"]
    assert "x-oss-tagging" not in form.fields  # PostObject takes no tags


def test_an_s3_form_lands_too(local_oss: LocalOSS, creds: Credentials) -> None:
    forms = S3Forms(endpoint=local_oss.endpoint, bucket=BUCKET, region=REGION)
    assert forms.url == f"{local_oss.endpoint}/{BUCKET}/"  # path-style on an IP address
    form = forms.form(creds, FormRequest("app/s3.jpg", len(PHOTO), "image/jpeg",
                                         ObjectOptions(tags=(("source", "app"),))),
                      now=_now(), lifetime=HOUR)
    assert form.fields["x-amz-algorithm"] == "AWS4-HMAC-SHA256" and "tagging" in form.fields
    assert wx_upload(form, PHOTO).status_code == 200
    assert stored(local_oss, "app/s3.jpg") == (PHOTO, "image/jpeg")
    with pytest.raises(ValueError, match="no upload callback"):
        forms.form(creds, FormRequest("k", 1, "image/jpeg", callback="x"), now=_now(),
                   lifetime=HOUR)


def test_a_virtual_hosted_bucket_is_the_forms_url() -> None:
    forms = OssForms(endpoint="https://oss-cn-hangzhou.aliyuncs.com", bucket="photos",
                     region=REGION)
    assert forms.url == "https://photos.oss-cn-hangzhou.aliyuncs.com/"
    s3 = S3Forms(endpoint="https://s3.eu-west-1.amazonaws.com", bucket="photos",
                 region="eu-west-1")
    assert s3.url == "https://photos.s3.eu-west-1.amazonaws.com/"
