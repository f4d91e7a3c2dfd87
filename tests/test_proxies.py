"""Proxies and CA bundles from the environment still apply, though a target reads the
environment once instead of letting requests read it for every request."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ossync.core.credentials import Credentials
from ossync.localoss import LocalOSS
from ossync.targets.http import HttpTarget
from ossync.targets.oss.target import OssTarget
from ossync.targets.s3.target import S3Target

from .conftest import BUCKET, REGION
from .forward_proxy import ForwardProxy

_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy", "REQUESTS_CA_BUNDLE",
              "CURL_CA_BUNDLE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy setting of the machine's leaks in (either case of each name)."""
    for name in _VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


def _target(kind: str, server: LocalOSS, creds: Credentials) -> HttpTarget:
    if kind == "oss":
        return OssTarget(endpoint=server.endpoint, bucket=BUCKET, region=REGION,
                         credentials=creds)
    return S3Target(endpoint=server.endpoint, bucket=BUCKET, region=REGION,
                    credentials=creds, addressing="path", method="put")


def _send(kind: str, server: LocalOSS, creds: Credentials, photo: Path) -> None:
    target = _target(kind, server, creds)
    try:
        target.upload(photo, "p/a.jpg", content_type="image/jpeg")  # type: ignore[attr-defined]
        assert target.head("p/a.jpg") is not None  # type: ignore[attr-defined]
    finally:
        target.close()


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "a.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(5000) + b"\xff\xd9")
    return path


@pytest.mark.parametrize("kind", ["oss", "s3"])
@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY"])
def test_requests_go_through_the_proxy_the_environment_names(
        kind: str, variable: str, local_oss: LocalOSS, creds: Credentials, photo: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardProxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        _send(kind, local_oss, creds, photo)
    base = f"{local_oss.endpoint}/{BUCKET}"
    upload = f"POST {base}/" if kind == "oss" else f"PUT {base}/p/a.jpg"
    assert proxy.seen[0] == upload
    assert proxy.seen[-1] == f"HEAD {base}/p/a.jpg"


@pytest.mark.parametrize("no_proxy", ["127.0.0.1", "localhost,127.0.0.1", "*"])
def test_no_proxy_sends_straight_to_the_store(no_proxy: str, local_oss: LocalOSS,
                                              creds: Credentials, photo: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", no_proxy)
        _send("oss", local_oss, creds, photo)
    assert proxy.seen == []


def test_a_proxy_for_other_hosts_only_is_not_used(local_oss: LocalOSS, creds: Credentials,
                                                  photo: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)  # the local endpoint is http://
        _send("oss", local_oss, creds, photo)
    assert proxy.seen == []


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_from_the_environment_is_the_one_trusted(
        variable: str, creds: Credentials, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """requests looks for the bundle before it connects: a missing one says so."""
    bundle = tmp_path / "missing-ca.pem"
    monkeypatch.setenv(variable, str(bundle))
    target = OssTarget(endpoint="https://127.0.0.1:1", bucket=BUCKET, region=REGION,
                       credentials=creds)
    try:
        with pytest.raises(OSError, match="CA certificate bundle"):
            target.head("k")
    finally:
        target.close()


def test_netrc_never_replaces_a_signature(local_oss: LocalOSS, creds: Credentials,
                                          photo: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A netrc entry for the store's host would have become a Basic Authorization header
    in place of the signed one; requests no longer reads netrc for a target."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    _send("oss", local_oss, creds, photo)  # the HEAD is header-signed
