"""A form ossync signed for an app cannot be widened by the app: another key, another
size, another type, another bucket, a field it did not pin, or the same form after it
expired — the strict local endpoint refuses each, as OSS (and S3) would, and stores
nothing."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.targets.direct import DirectForm, FormIssuer, FormRequest
from ossync.targets.oss.direct import OssForms
from ossync.targets.s3.direct import S3Forms
from tests.conftest import BUCKET, REGION

PHOTO = b"\xff\xd8" + os.urandom(4000) + b"\xff\xd9"
KEY = "app/2026/12/06/IMG_0001-aaaa.jpg"
OTHER_BUCKET = "other-bucket"


@pytest.fixture
def server(tmp_path: Path, creds: Credentials) -> LocalOSS:
    found = LocalOSS(tmp_path / "oss", [BUCKET, OTHER_BUCKET], creds, region=REGION).start()
    yield found  # type: ignore[misc]
    found.stop()


def _issuer(kind: str, endpoint: str) -> FormIssuer:
    if kind == "s3":
        return S3Forms(endpoint=endpoint, bucket=BUCKET, region=REGION)
    return OssForms(endpoint=endpoint, bucket=BUCKET, region=REGION,
                    signature_version=1 if kind == "oss-v1" else 4)


def _form(server: LocalOSS, creds: Credentials, kind: str, *,
          now: datetime | None = None) -> DirectForm:
    return _issuer(kind, server.endpoint).form(
        creds, FormRequest(KEY, len(PHOTO), "image/jpeg"),
        now=now or datetime.now(timezone.utc), lifetime=timedelta(minutes=10))


def _post(url: str, fields: dict[str, str], data: bytes = PHOTO) -> requests.Response:
    return requests.post(url, data=fields, files={"file": ("x.jpg", data, "image/jpeg")},
                         timeout=10)


def _nothing_stored(server: LocalOSS) -> bool:
    return all(not list(b.snapshot()) for b in server.app.buckets.values())


Widen = Callable[[DirectForm], tuple[str, dict[str, str], bytes]]
WIDENINGS: dict[str, Widen] = {
    "another key": lambda f: (f.url, {**f.fields, "key": "index.html"}, PHOTO),
    "a key beside it": lambda f: (f.url, {**f.fields, "key": KEY + ".html"}, PHOTO),
    "more bytes": lambda f: (f.url, f.fields, PHOTO + b"\0" * 1000),
    "fewer bytes": lambda f: (f.url, f.fields, PHOTO[:100]),
    "another type": lambda f: (f.url, {**f.fields, "Content-Type": "text/html"}, PHOTO),
    "another bucket": lambda f: (f.url.replace(BUCKET, OTHER_BUCKET), f.fields, PHOTO),
    "another success status": lambda f: (f.url, {**f.fields, "success_action_status": "201"},
                                         PHOTO),
    "an option it did not pin": lambda f: (f.url, {**f.fields, "x-oss-object-acl":
                                                   "public-read-write"}, PHOTO),
}


@pytest.mark.parametrize("kind", ["oss-v4", "oss-v1", "s3"])
@pytest.mark.parametrize("how", sorted(WIDENINGS))
def test_a_form_cannot_be_widened(server: LocalOSS, creds: Credentials, kind: str,
                                  how: str) -> None:
    url, fields, data = WIDENINGS[how](_form(server, creds, kind))
    if kind == "s3" and "x-oss-object-acl" in fields:  # S3 spells the ACL field `acl`
        fields = {**{k: v for k, v in fields.items() if k != "x-oss-object-acl"},
                  "acl": "public-read-write"}
    answer = _post(url, fields, data)
    assert answer.status_code in (400, 403), (how, answer.status_code, answer.text)
    assert _nothing_stored(server)


@pytest.mark.parametrize("kind", ["oss-v4", "oss-v1", "s3"])
def test_a_form_after_it_expired(server: LocalOSS, creds: Credentials, kind: str) -> None:
    """Signed eleven minutes ago for ten: refused, though the signature is good."""
    form = _form(server, creds, kind, now=datetime.now(timezone.utc) - timedelta(minutes=11))
    answer = _post(form.url, form.fields)
    assert answer.status_code == 403 and "expired" in answer.text.lower()
    assert _nothing_stored(server)


def test_the_untouched_form_is_taken(server: LocalOSS, creds: Credentials) -> None:
    """The refusals above are the widening's, not the form's."""
    for kind in ("oss-v4", "s3"):  # S3 POST cannot refuse to overwrite: the same object
        form = _form(server, creds, kind)
        assert _post(form.url, form.fields).status_code == 200
