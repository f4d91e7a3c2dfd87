"""The local endpoint on a plain install: every test of tests/test_localoss.py again, with
the SDK's signers swapped for `ossync.localoss.own_signers` (what `signers` picks when
alibabacloud-oss-v2 is missing), plus the two side by side on the same requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from alibabacloud_oss_v2 import signer as sdk_signer
from alibabacloud_oss_v2 import types as sdk_types

from ossync.localoss import auth, own_signers, signers
from tests.test_localoss import *  # noqa: F403  (each test runs again under the fixture below)

SWAPPED = ("SignerV1", "SignerV4", "HttpRequest", "SigningContext", "SdkCredentials")


@pytest.fixture(autouse=True)
def _own_signers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SWAPPED:
        monkeypatch.setattr(auth, name, getattr(own_signers, name))
    yield


def test_the_sdk_is_what_checks_when_it_is_installed() -> None:
    assert signers.INDEPENDENT
    assert signers.SignerV4 is sdk_signer.SignerV4


NOW = datetime(2026, 11, 25, 8, 30, tzinfo=timezone.utc)
REQUESTS = [
    ("GET", "b", "photos/图 a+b.jpg", "", {"x-oss-meta-a": "1"}, set(), None),
    ("HEAD", "b", "k.jpg", "x-oss-process=image%2Fresize%2Cw_300", {}, set(), "TOKEN/+="),
    ("DELETE", "b", "k", "uploadId=77&acl", {"content-type": "image/jpeg",
                                            "content-md5": "abc==", "host": "h",
                                            "range": "bytes=0-1"}, {"range", "host"}, None),
    ("PUT", "b", "", "", {"x-oss-forbid-overwrite": "true"}, {"x-oss-x"}, None),
]


def _pair(method: str, bucket: str, key: str, query: str, headers: dict[str, str],
          extra: set[str], token: str | None, *, query_auth: bool) -> list[object]:
    results: list[object] = []
    url = f"http://h/{bucket}/{key}" + (f"?{query}" if query else "")
    for lib_types, lib_signer in ((sdk_types, sdk_signer), (own_signers, own_signers)):
        creds = (lib_types.Credentials if lib_types is sdk_types else own_signers.SdkCredentials)(
            "AK", "SECRET", token)
        request = lib_types.HttpRequest(method, url, headers=dict(headers))
        ctx = lib_types.SigningContext(bucket=bucket, key=key or None, request=request,
                                       credentials=creds, additional_headers=set(extra))
        ctx.product, ctx.region, ctx.signing_time = "oss", "cn-hangzhou", NOW
        if query_auth:
            ctx.auth_method_query, ctx.expiration_time = True, NOW + timedelta(hours=1)
        lib_signer.SignerV4().sign(ctx)
        ctx.sub_resource = ["x-oss-process"]
        v1 = lib_signer.SignerV1()._calc_string_to_sign(signing_ctx=ctx, date="123")
        results.append((request.url, request.headers.get("Authorization"), v1))
    return results


@pytest.mark.parametrize("query_auth", [False, True])
@pytest.mark.parametrize("request_", REQUESTS)
def test_own_signers_match_the_sdk(request_: tuple, query_auth: bool) -> None:  # type: ignore[type-arg]
    sdk, own = _pair(*request_, query_auth=query_auth)
    assert sdk == own
