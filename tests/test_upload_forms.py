"""The pure parts of direct uploads: a form's life cut to the keys' own expiry, the
callback a form pins (naming its id, read back as OSS fills it), and a callback key
fetched once however many callbacks name it."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ossync.config import UploadsConfig
from ossync.core.credentials import Credentials
from ossync.http import upload_forms as forms
from ossync.http.upload_callback import Forged, KeyCache, read_body
from ossync.targets.oss.direct import OssForms
from tests.conftest import ACCESS_KEY_ID, SECRET, STS_TOKEN

NOW = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)


def test_a_form_lives_no_longer_than_its_keys() -> None:
    config = UploadsConfig(expires=600.0)
    lasting = Credentials(ACCESS_KEY_ID, SECRET)
    assert forms.lifetime(config, lasting, NOW) == timedelta(minutes=10)
    soon = Credentials(ACCESS_KEY_ID, SECRET, STS_TOKEN, expires_at=NOW + timedelta(minutes=5))
    assert forms.lifetime(config, soon, NOW) == timedelta(minutes=5)
    ending = Credentials(ACCESS_KEY_ID, SECRET, STS_TOKEN,
                         expires_at=NOW + timedelta(seconds=30))
    assert forms.lifetime(config, ending, NOW) is None


def test_the_pinned_callback_names_the_upload() -> None:
    config = UploadsConfig(callback_url="https://up.example.com/v1/uploads/callback")
    issuer = OssForms(endpoint="https://oss-cn-hangzhou.aliyuncs.com", bucket="photos",
                      region="cn-hangzhou")
    creds = Credentials(ACCESS_KEY_ID, SECRET, STS_TOKEN,
                        expires_at=NOW + timedelta(hours=1))
    made = forms.make_forms([forms.Asked("IMG_1.JPG", 10, "image/jpeg")], config, issuer,
                            creds, host="h1", now=NOW, life=timedelta(minutes=10))[0]
    fields = made.form.fields
    assert fields["x-oss-security-token"] == STS_TOKEN and SECRET not in json.dumps(fields)
    doc = json.loads(base64.b64decode(fields["callback"]))
    assert doc["callbackUrl"] == config.callback_url
    assert f"id={made.issued.id}&" in doc["callbackBody"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    assert ["eq", "$callback", fields["callback"]] in policy["conditions"]  # pinned
    assert made.issued.expires_at == "2026-12-06T10:10:00.000Z"
    filled = (doc["callbackBody"].replace("${bucket}", "photos")
              .replace("${object}", made.issued.key.replace("/", "%2F"))
              .replace("${size}", "10").replace("${mimeType}", "image%2Fjpeg")
              .replace("${crc64}", "123").replace("${etag}", "ABC"))
    landed = read_body(filled.encode())
    assert (landed.id, landed.key, landed.size, landed.crc64, landed.etag) == (
        made.issued.id, made.issued.key, 10, 123, '"ABC"')
    for bad in (b"", b"id=x", b"\xff", b"id=a&id=b&bucket=b&object=o&size=1"):
        with pytest.raises(Forged):
            read_body(bad)


def test_a_callback_key_is_fetched_once() -> None:
    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key(
    ).public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem

    cache = KeyCache(None, fetch=fetch)
    header = base64.b64encode(b"http://gosspublic.alicdn.com/callback_pub_key_v1.pem").decode()
    first = cache.key(header)
    assert cache.key(header) is first
    assert fetched == ["https://gosspublic.alicdn.com/callback_pub_key_v1.pem"]
    junk = KeyCache(None, fetch=lambda url: b"not a key")
    with pytest.raises(Forged):
        junk.key(header)
