"""The local endpoint's bucket CORS, as OSS keeps it: rules set, read and removed through
Alibaba's own SDK (oss2), preflights answered from a rule or refused, and the headers a
browser needs on an actual answer (the origin allowed, ETag exposed) given only to an
allowed origin. Every other check stays as strict: CORS lets a page read an answer, it
never lets an unsigned request in."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import oss2
import pytest
import requests

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.targets.direct import FormRequest
from ossync.targets.oss.direct import OssForms

from .conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET

PAGE = "http://127.0.0.1:9469"
PHOTO = b"\xff\xd8" + os.urandom(3000) + b"\xff\xd9"


def sdk_bucket(server: LocalOSS, v4: bool = True) -> oss2.Bucket:
    """The SDK's bucket, path-style (the bucket's URL as a custom domain)."""
    auth = oss2.AuthV4(ACCESS_KEY_ID, SECRET) if v4 else oss2.Auth(ACCESS_KEY_ID, SECRET)
    return oss2.Bucket(auth, f"{server.endpoint}/{BUCKET}", BUCKET, region=REGION,
                       is_cname=True)


def allow_page(server: LocalOSS, origins: tuple[str, ...] = (PAGE,), v4: bool = True) -> None:
    rule = oss2.models.CorsRule(allowed_origins=list(origins), allowed_methods=["POST", "GET"],
                                allowed_headers=["*"], expose_headers=["ETag",
                                                                       "x-oss-request-id"],
                                max_age_seconds=600)
    sdk_bucket(server, v4).put_bucket_cors(oss2.models.BucketCors([rule]))


def preflight(server: LocalOSS, origin: str = PAGE, method: str = "POST",
              headers: str = "") -> requests.Response:
    sent = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        sent["Access-Control-Request-Headers"] = headers
    return requests.options(f"{server.endpoint}/{BUCKET}/", headers=sent, timeout=10)


@pytest.mark.parametrize("v4", [True, False])
def test_rules_through_the_sdk(local_oss: LocalOSS, v4: bool) -> None:
    bucket = sdk_bucket(local_oss, v4)
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket.get_bucket_cors()
    allow_page(local_oss, (PAGE, "https://*.example.com"), v4)
    [rule] = bucket.get_bucket_cors().rules
    assert rule.allowed_origins == [PAGE, "https://*.example.com"]
    assert rule.allowed_methods == ["POST", "GET"] and rule.expose_headers == [
        "ETag", "x-oss-request-id"] and rule.max_age_seconds == 600
    bucket.delete_bucket_cors()
    with pytest.raises(oss2.exceptions.NoSuchCors):
        bucket.get_bucket_cors()


def test_setting_rules_needs_a_signature(local_oss: LocalOSS) -> None:
    body = (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin>"
            b"<AllowedMethod>POST</AllowedMethod></CORSRule></CORSConfiguration>")
    answer = requests.put(f"{local_oss.endpoint}/{BUCKET}/?cors", data=body, timeout=10)
    assert answer.status_code == 403
    assert preflight(local_oss, "https://attacker.example").status_code == 403


@pytest.mark.parametrize(("body", "code"), [
    (b"<CORSConfiguration/>", "InvalidArgument"),
    (b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH"
     b"</AllowedMethod></CORSRule></CORSConfiguration>", "InvalidArgument"),
    (b"<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET"
     b"</AllowedMethod></CORSRule></CORSConfiguration>", "InvalidArgument"),
    (b"<CORS", "MalformedXML"),
])
def test_bad_rules_are_refused(local_oss: LocalOSS, body: bytes, code: str) -> None:
    with pytest.raises(oss2.exceptions.ServerError) as info:
        sdk_bucket(local_oss)._Bucket__do_bucket("PUT", data=body, params={"cors": ""})
    assert info.value.code == code


def test_preflights(local_oss: LocalOSS) -> None:
    assert preflight(local_oss).status_code == 403  # no rules: CORS is off
    allow_page(local_oss, (PAGE, "https://*.example.com"))
    ok = preflight(local_oss, headers="content-type, X-Requested-With")
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == PAGE
    assert ok.headers["Access-Control-Allow-Methods"] == "POST, GET"
    assert ok.headers["Access-Control-Allow-Headers"] == "content-type, x-requested-with"
    assert ok.headers["Access-Control-Expose-Headers"] == "ETag, x-oss-request-id"
    assert ok.headers["Access-Control-Max-Age"] == "600"
    assert preflight(local_oss, "https://shop.example.com").status_code == 200
    refused = preflight(local_oss, "https://example.com.attacker.net")
    assert refused.status_code == 403 and "<Code>AccessForbidden</Code>" in refused.text
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert preflight(local_oss, method="DELETE").status_code == 403
    assert requests.options(f"{local_oss.endpoint}/{BUCKET}/", timeout=10).status_code == 400


def _form(server: LocalOSS, creds: Credentials, key: str) -> tuple[str, dict[str, str]]:
    form = OssForms(endpoint=server.endpoint, bucket=BUCKET, region=REGION).form(
        creds, FormRequest(key, len(PHOTO), "image/jpeg"), now=datetime.now(timezone.utc),
        lifetime=timedelta(minutes=10))
    return form.url, form.fields


def test_answers_carry_cors_headers_for_an_allowed_origin(local_oss: LocalOSS,
                                                          creds: Credentials) -> None:
    allow_page(local_oss)
    url, fields = _form(local_oss, creds, "app/a.jpg")
    answer = requests.post(url, data=fields, files={"file": ("a.jpg", PHOTO, "image/jpeg")},
                           headers={"Origin": PAGE}, timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == PAGE
    assert answer.headers["Access-Control-Expose-Headers"] == "ETag, x-oss-request-id"
    assert answer.headers["ETag"]
    url, fields = _form(local_oss, creds, "app/b.jpg")
    other = requests.post(url, data=fields, files={"file": ("b.jpg", PHOTO, "image/jpeg")},
                          headers={"Origin": "https://attacker.example"}, timeout=10)
    assert other.status_code == 200  # stored (CORS is the browser's rule, not the store's)
    assert not [h for h in other.headers if h.lower().startswith("access-control-")]
    refused = requests.post(url, data={**fields, "key": "app/c.jpg"},
                            files={"file": ("c.jpg", PHOTO, "image/jpeg")},
                            headers={"Origin": PAGE}, timeout=10)
    assert refused.status_code == 403  # a page may read why it was refused
    assert refused.headers["Access-Control-Allow-Origin"] == PAGE


def test_rules_survive_a_restart(tmp_path: Path, creds: Credentials) -> None:
    with LocalOSS(tmp_path / "oss", [BUCKET], creds, region=REGION) as server:
        allow_page(server)
    with LocalOSS(tmp_path / "oss", [BUCKET], creds, region=REGION) as server:
        assert preflight(server).status_code == 200
