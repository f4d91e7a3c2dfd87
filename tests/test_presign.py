"""Presigned URLs: known answers, byte-for-byte agreement with the official SDKs, and the
CLI's signed URLs fetched from the real local endpoint over a ledger the real daemon wrote."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit
from xml.etree import ElementTree

import alibabacloud_oss_v2 as oss_v2
import oss2
import pytest
import requests
import yaml
from alibabacloud_oss_v2.credentials import StaticCredentialsProvider
from alibabacloud_oss_v2.types import Credentials as SdkCredentials
from alibabacloud_oss_v2.types import HttpRequest, SigningContext

from ossync import Ledger
from ossync.cli import main
from ossync.config import parse_config
from ossync.core.addressing import with_process
from ossync.core.credentials import Credentials
from ossync.core.errors import ConfigError
from ossync.ledger import SignerMissing
from ossync.localoss import LocalOSS
from ossync.stores import url_signer
from ossync.targets.oss.presign import (
    UrlSigner,
    lifetime_seconds,
    presign_v1,
    presign_v4,
)

from .conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET, STS_TOKEN
from .daemon_helpers import config_for, daemon_thread, file_states, jpeg_bytes, wait_for

T = datetime(2023, 12, 3, 12, 12, 12, tzinfo=timezone.utc)
DOC = Credentials("accesskeyid", "accesskeysecret")
KEYS = ["exampleobject", "images/2026/11/25/IMG 0001-3fa2b1c9.jpg", "dir/图 a+b.jpg",
        "odd/%25 100% #hash ?q=1 ~tilde+plus.png"]
TOKENS = [None, "CAIS+sts/token=with%odd chars" + "x" * 300]
PROCESSES = [None, "image/resize,w_300", "image/resize,m_fill,w_200,h_200/quality,q_80"]
HOSTED = "https://examplebucket.oss-cn-hangzhou.aliyuncs.com"


# --- known answers and the official SDKs -------------------------------------------


def test_v4_known_answers() -> None:
    """Fixed vectors (computed once with alibabacloud-oss-v2's SignerV4)."""
    def sign(process: str | None = None) -> str:
        return presign_v4(DOC, bucket="examplebucket", key="exampleobject",
                          region="cn-hangzhou", base_url=HOSTED, now=T, expires=86400,
                          process=process)

    auth = ("x-oss-signature-version=OSS4-HMAC-SHA256&x-oss-date=20231203T121212Z"
            "&x-oss-expires=86400"
            "&x-oss-credential=accesskeyid%2F20231203%2Fcn-hangzhou%2Foss%2Faliyun_v4_request")
    assert sign() == (
        f"{HOSTED}/exampleobject?{auth}&x-oss-signature="
        "c81205962f6f7cb6ef5c28464417030e8d7cfc90f10c4215876ca8b642206395")
    assert sign("image/resize,w_300") == (
        f"{HOSTED}/exampleobject?x-oss-process=image%2Fresize%2Cw_300&{auth}&x-oss-signature="
        "a504bd594b1aaf0eacd1c201b925419f184e08df7ec46baa5653c8baa1dde011")


def test_v1_known_answer() -> None:
    """Fixed vector (computed once with alibabacloud-oss-v2's SignerV1)."""
    assert presign_v1(DOC, bucket="examplebucket", key="exampleobject", base_url=HOSTED,
                      now=T, expires=timedelta(days=1)) == (
        f"{HOSTED}/exampleobject?OSSAccessKeyId=accesskeyid&Expires=1701691932"
        "&Signature=8XofxEwKleAbmRfe6u9r38V3O5Q%3D")


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("token", TOKENS, ids=["ak", "sts"])
@pytest.mark.parametrize("key", KEYS)
def test_v4_equals_the_sdk_signer(key: str, token: str | None, process: str | None) -> None:
    creds = Credentials("LTAI5tPresignKey", "presign-secret", token)
    lifetime = timedelta(hours=2)
    url = f"{HOSTED}/{quote(key, safe='/')}"
    if process:
        url += f"?x-oss-process={quote(process, safe='')}"
    ctx = SigningContext(product="oss", region="cn-hangzhou", bucket="examplebucket", key=key,
                         request=HttpRequest("GET", url), signing_time=T,
                         credentials=SdkCredentials(creds.access_key_id,
                                                    creds.access_key_secret, token))
    ctx.auth_method_query, ctx.expiration_time = True, T + lifetime
    oss_v2.signer.SignerV4().sign(ctx)
    ours = presign_v4(creds, bucket="examplebucket", key=key, region="cn-hangzhou",
                      base_url=HOSTED, now=T, expires=lifetime, process=process)
    assert ours == ctx.request.url


def _sdk_client(endpoint: str, creds: Credentials, **options: Any) -> oss_v2.Client:
    cfg = oss_v2.config.load_default()
    cfg.credentials_provider = StaticCredentialsProvider(
        creds.access_key_id, creds.access_key_secret, creds.security_token)
    cfg.region, cfg.endpoint = REGION, endpoint
    for name, value in options.items():
        setattr(cfg, name, value)
    return oss_v2.Client(cfg)


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


@pytest.mark.parametrize(("endpoint", "options", "cname"), [
    ("https://oss-cn-hangzhou.aliyuncs.com", {}, False),
    ("http://127.0.0.1:9000", {"use_path_style": True}, False),
    ("https://img.example.com", {"use_cname": True}, True),
], ids=["virtual-hosted", "path-style", "custom-domain"])
def test_v4_equals_the_sdk_client_presign(endpoint: str, options: dict[str, Any],
                                          cname: bool) -> None:
    """The SDK's own client (its URL building, key encoding and query order) for the
    same time and lifetime, read back from its URL, gives exactly our URL."""
    creds = Credentials("LTAI5tPresignKey", "presign-secret", TOKENS[1])
    signer = UrlSigner(creds, endpoint, REGION, cname=cname)
    client = _sdk_client(endpoint, creds, **options)
    for key in KEYS:
        for process in PROCESSES:
            expiration = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(hours=1)
            sdk = client.presign(oss_v2.GetObjectRequest(bucket="my-bucket", key=key,
                                                         process=process),
                                 expiration=expiration).url
            q = _query(sdk)
            signed_at = datetime.strptime(q["x-oss-date"], "%Y%m%dT%H%M%SZ").replace(
                tzinfo=timezone.utc)
            assert signer.sign("my-bucket", key, process=process, now=signed_at,
                               expires=int(q["x-oss-expires"])) == sdk


@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("token", TOKENS, ids=["ak", "sts"])
@pytest.mark.parametrize("key", KEYS)
def test_v1_equals_oss2_sign_url(key: str, token: str | None, process: str | None) -> None:
    creds = Credentials("LTAI5tPresignKey", "presign-secret", token)
    auth = oss2.StsAuth(creds.access_key_id, creds.access_key_secret, token) if token else (
        oss2.Auth(creds.access_key_id, creds.access_key_secret))
    bucket = oss2.Bucket(auth, "https://oss-cn-hangzhou.aliyuncs.com", "examplebucket")
    frozen = T.timestamp() + 0.75
    with mock.patch("oss2.auth.time.time", return_value=frozen):
        theirs = bucket.sign_url("GET", key, 600, slash_safe=True,
                                 params={"x-oss-process": process} if process else None)
    ours = presign_v1(creds, bucket="examplebucket", key=key, base_url=HOSTED,
                      now=datetime.fromtimestamp(frozen, timezone.utc), expires=600,
                      process=process)
    assert ours == theirs


@pytest.mark.parametrize("token", TOKENS, ids=["ak", "sts"])
def test_v1_signature_equals_the_other_sdk(token: str | None) -> None:
    """alibabacloud-oss-v2's SignerV1 orders the query differently but signs the same."""
    creds = Credentials("LTAI5tPresignKey", "presign-secret", token)
    for key in KEYS:
        ctx = SigningContext(bucket="examplebucket", key=key, signing_time=T,
                             request=HttpRequest("GET", f"{HOSTED}/{quote(key, safe='/')}"),
                             credentials=SdkCredentials(creds.access_key_id,
                                                        creds.access_key_secret, token))
        ctx.auth_method_query, ctx.expiration_time = True, T + timedelta(minutes=30)
        oss_v2.signer.SignerV1().sign(ctx)
        ours = presign_v1(creds, bucket="examplebucket", key=key, base_url=HOSTED, now=T,
                          expires=1800)
        assert _query(ours) == _query(ctx.request.url)
        assert ours.split("?")[0] == ctx.request.url.split("?")[0]


def test_addressing_changes_the_host_not_the_signature() -> None:
    urls = [UrlSigner(DOC, endpoint, REGION, cname=cname).sign("my-bucket", "a/b c.jpg", now=T)
            for endpoint, cname in [("https://oss-cn-hangzhou.aliyuncs.com", False),
                                    ("http://127.0.0.1:9000", False),
                                    ("https://img.example.com", True)]]
    assert [u.split("?")[0] for u in urls] == [
        "https://my-bucket.oss-cn-hangzhou.aliyuncs.com/a/b%20c.jpg",
        "http://127.0.0.1:9000/my-bucket/a/b%20c.jpg",
        "https://img.example.com/a/b%20c.jpg"]
    assert len({u.split("?")[1] for u in urls}) == 1  # canonical URI is /bucket/key for all


def test_lifetime_limits() -> None:
    assert lifetime_seconds(timedelta(days=7)) == 604800
    assert lifetime_seconds(1) == 1
    assert lifetime_seconds(90.9) == 90
    for bad in (0, 0.5, -5, timedelta(days=7, seconds=1)):
        with pytest.raises(ValueError, match="at most 7d"):
            lifetime_seconds(bad)
    with pytest.raises(ValueError):
        presign_v4(DOC, bucket="b", key="k", region=REGION, base_url=HOSTED, now=T,
                   expires=timedelta(days=8))


def test_public_urls_take_an_unsigned_process() -> None:
    assert with_process("https://cdn.example.com/a.jpg", None) == "https://cdn.example.com/a.jpg"
    assert with_process("https://cdn.example.com/a.jpg", "image/resize,w_300") == (
        "https://cdn.example.com/a.jpg?x-oss-process=image%2Fresize%2Cw_300")


# --- config ---------------------------------------------------------------------------


def _config(tmp_path: Path, **oss: object) -> Any:
    doc = {"oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "my-bucket",
                   **oss}, "ledger": "ledger.db"}
    env = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}
    return parse_config(doc, base=tmp_path, env=env)


def test_url_mode_and_expires_config(tmp_path: Path) -> None:
    plain = _config(tmp_path)
    assert (plain.oss.url_mode, plain.oss.url_expires) == ("signed", 3600)
    cdn = _config(tmp_path, public_url="https://img.example.com")
    assert cdn.oss.url_mode == "public"
    both = _config(tmp_path, public_url="https://img.example.com", url_mode="signed",
                   url_expires="7d")
    assert (both.oss.url_mode, both.oss.url_expires) == ("signed", 604800)
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, url_mode="sometimes", url_expires="8d")
    problems = "\n".join(info.value.problems)
    assert "oss.url_mode: must be one of public, signed, not 'sometimes'" in problems
    assert "oss.url_expires: must be at least 1s and at most 7d" in problems
    assert "not 8d" in problems


# --- the CLI and the endpoint, over a ledger the daemon wrote --------------------------


class World:
    """The real daemon has uploaded `files` to a private local endpoint whose clock the
    test can move; `run` is the CLI in-process."""

    def __init__(self, tmp: Path, cfg: Path, server: LocalOSS, offset: list[timedelta],
                 files: dict[str, bytes]) -> None:
        self.tmp, self.cfg, self.server, self._offset = tmp, cfg, server, offset
        self.drop = tmp / "drop"
        self.files = files
        self.ledger = config_for(cfg).ledger

    def path(self, name: str) -> str:
        return str(self.drop / name)

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main([argv[0], "-c", str(self.cfg), *argv[1:]], stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def url(self, name: str, *options: str) -> str:
        code, out, err = self.run("url", self.path(name), *options)
        assert code == 0, err
        return out.strip()

    def later(self, delta: timedelta) -> None:
        """Move the endpoint's clock (not ours) forward."""
        self._offset[0] += delta


FILES = {"a.jpg": jpeg_bytes(3000, seed=1), "sub/图 b+c%.jpg": jpeg_bytes(4000, seed=2)}


@pytest.fixture
def make_world(tmp_path: Path, oss_env: dict[str, str],
               monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., World]]:
    servers: list[LocalOSS] = []

    def make(*, version: int = 4, sts: bool = False) -> World:
        if sts:
            monkeypatch.setenv("OSS_SESSION_TOKEN", STS_TOKEN)
        offset = [timedelta(0)]
        server = LocalOSS(tmp_path / "oss-root", [BUCKET],
                          Credentials(ACCESS_KEY_ID, SECRET, STS_TOKEN if sts else None),
                          region=REGION,
                          clock=lambda: datetime.now(timezone.utc) + offset[0]).start()
        servers.append(server)
        drop = tmp_path / "drop"
        (drop / "sub").mkdir(parents=True)
        cfg = tmp_path / "config.yaml"
        cfg.write_text(yaml.safe_dump({
            "oss": {"endpoint": server.endpoint, "region": REGION, "bucket": BUCKET,
                    "signature_version": version},
            "ledger": str(tmp_path / "ledger.db"), "settle_seconds": 0.2,
            "date_source": "mtime", "watch": [{"path": str(drop), "label": "cam"}],
        }, allow_unicode=True), encoding="utf-8")
        world = World(tmp_path, cfg, server, offset, FILES)
        with daemon_thread(config_for(cfg)):
            for name, data in FILES.items():
                (drop / name).write_bytes(data)
            wait_for(lambda: len([s for s, _ in file_states(world.ledger).values()
                                  if s == "uploaded"]) == len(FILES), 30, "uploads")
        return world

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


def _error(resp: requests.Response) -> tuple[int, str]:
    """Status and OSS error code (from the body, or `x-oss-err` for HEAD)."""
    body = resp.content or base64.b64decode(resp.headers.get("x-oss-err", ""))
    root = ElementTree.fromstring(body)
    return resp.status_code, root.findtext("Code") or ""


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def _get(url: str, method: str = "GET") -> requests.Response:
    return requests.request(method, url, timeout=10)


def test_signed_url_fetches_the_bytes_and_the_plain_url_is_refused(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    for name, data in world.files.items():
        signed = world.url(name, "--signed")
        q = _query(signed)
        assert q["x-oss-signature-version"] == "OSS4-HMAC-SHA256"
        assert q["x-oss-expires"] == "3600"  # oss.url_expires default
        resp = _get(signed)
        assert resp.status_code == 200 and resp.content == data
        plain = world.url(name, "--public")
        assert "?" not in plain and plain == signed.split("?")[0]
        assert _error(_get(plain)) == (403, "AccessDenied")  # a private bucket
        assert _error(_get(plain, "HEAD")) == (403, "AccessDenied")
    # No flag: the config has no public_url, so url_mode defaults to signed.
    assert "x-oss-signature=" in world.url("a.jpg")
    assert " " not in world.url("sub/图 b+c%.jpg")


def test_expired_and_tampered_urls_are_refused(make_world: Callable[..., World]) -> None:
    world = make_world()
    url = world.url("a.jpg", "--signed")
    other = world.url("sub/图 b+c%.jpg", "--signed")
    swapped = urlunsplit(urlsplit(url)._replace(path=urlsplit(other).path))
    assert _get(swapped).status_code == 403 and _error(_get(swapped)) == (
        403, "SignatureDoesNotMatch")
    sig = _query(url)["x-oss-signature"]
    forged = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    assert _error(_get(_with_query(url, x_oss_signature=forged))) == (
        403, "SignatureDoesNotMatch")
    assert _error(_get(_with_query(url, x_oss_expires="7200"))) == (
        403, "SignatureDoesNotMatch")
    assert _error(_get(url, "HEAD")) == (403, "SignatureDoesNotMatch")  # signed for GET
    longer = world.url("a.jpg", "--signed", "--expires", "2h")
    assert _query(longer)["x-oss-expires"] == "7200"
    world.later(timedelta(hours=1, seconds=5))
    resp = _get(url)
    assert _error(resp) == (403, "AccessDenied")
    error = ElementTree.fromstring(resp.content)
    assert error.findtext("Message") == "Request has expired."
    assert error.findtext("Expires") and error.findtext("ServerTime")
    assert _get(longer).status_code == 200
    world.later(timedelta(hours=1))
    assert _error(_get(longer)) == (403, "AccessDenied")


def test_expires_over_seven_days_is_a_clear_usage_error(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    code, out, err = world.run("url", world.path("a.jpg"), "--signed", "--expires", "8d")
    assert (code, out) == (2, "")
    assert len(err.strip().splitlines()) == 1
    assert "--expires 8d" in err and "at most 7d" in err
    code, _, err = world.run("ls", "--signed", "--expires", "0s")
    assert code == 2 and "at least 1s" in err
    code, _, err = world.run("url", world.path("a.jpg"), "--public", "--expires", "2h")
    assert code == 2 and "--signed" in err
    assert _query(world.url("a.jpg", "--expires", "7d"))["x-oss-expires"] == "604800"


def test_signed_needs_a_loadable_config(make_world: Callable[..., World],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world()
    out, err = io.StringIO(), io.StringIO()
    argv = ["url", world.path("a.jpg"), "--ledger", str(world.ledger),
            "-c", str(world.tmp / "missing.yaml")]
    assert main([*argv, "--signed"], stdout=out, stderr=err) == 2
    assert out.getvalue() == "" and len(err.getvalue().strip().splitlines()) == 1
    assert "signed URLs need a loadable config (-c CONFIG)" in err.getvalue()
    assert main(argv, stdout=out, stderr=err) == 0  # no config: the recorded URL
    assert "?" not in out.getvalue() and out.getvalue().startswith(world.server.endpoint)
    monkeypatch.delenv("OSS_ACCESS_KEY_SECRET")  # the config loads no more
    code, out2, err2 = world.run("url", world.path("a.jpg"))
    assert code == 2 and out2 == "" and len(err2.strip().splitlines()) == 1
    assert "oss credentials: none found" in err2 and "--public" in err2
    code, out2, _ = world.run("url", world.path("a.jpg"), "--public")
    assert code == 0 and "?" not in out2


def test_public_url_config_defaults_to_the_recorded_urls(
        make_world: Callable[..., World]) -> None:
    world = make_world()
    raw = yaml.safe_load(world.cfg.read_text())
    raw["oss"]["public_url"] = "https://img.example.com"
    cdn = world.tmp / "cdn.yaml"
    cdn.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    code, out, err = world.run("url", world.path("a.jpg"), "-c", str(cdn))
    assert code == 0, err
    recorded = out.strip()
    assert "?" not in recorded and recorded.startswith(world.server.endpoint)
    code, out, _ = world.run("url", world.path("a.jpg"), "-c", str(cdn), "--signed")
    assert code == 0 and _get(out.strip()).status_code == 200


def test_process_is_in_the_url_and_signed(make_world: Callable[..., World]) -> None:
    world = make_world()
    spec = "image/resize,w_300"
    url = world.url("a.jpg", "--signed", "--process", spec)
    assert "x-oss-process=image%2Fresize%2Cw_300&" in url
    resp = _get(url)
    assert resp.status_code == 200 and resp.content == FILES["a.jpg"]  # served unprocessed
    assert _error(_get(_with_query(url, x_oss_process="image/resize,w_3000"))) == (
        403, "SignatureDoesNotMatch")
    assert _error(_get(_with_query(url, x_oss_process=None))) == (403, "SignatureDoesNotMatch")
    public = world.url("a.jpg", "--public", "--process", spec)
    assert public == world.url("a.jpg", "--public") + "?x-oss-process=image%2Fresize%2Cw_300"


def test_sts_token_is_carried_and_checked(make_world: Callable[..., World]) -> None:
    world = make_world(sts=True)
    url = world.url("sub/图 b+c%.jpg", "--signed", "--process", "image/resize,w_100")
    assert _query(url)["x-oss-security-token"] == STS_TOKEN
    assert f"x-oss-security-token={quote(STS_TOKEN, safe='')}&x-oss-signature=" in url
    resp = _get(url)
    assert resp.status_code == 200 and resp.content == FILES["sub/图 b+c%.jpg"]
    assert _error(_get(_with_query(url, x_oss_security_token=None))) == (
        403, "InvalidAccessKeyId")
    assert _error(_get(_with_query(url, x_oss_security_token=STS_TOKEN[:-1] + "Q"))) == (
        403, "InvalidSecurityToken")


def test_v1_config_gives_v1_urls_the_endpoint_accepts(
        make_world: Callable[..., World]) -> None:
    world = make_world(version=1, sts=True)
    url = world.url("sub/图 b+c%.jpg", "--signed", "--process", "image/resize,w_300")
    q = _query(url)
    assert set(q) == {"x-oss-process", "security-token", "OSSAccessKeyId", "Expires",
                      "Signature"}
    assert int(q["Expires"]) - time.time() == pytest.approx(3600, abs=60)
    resp = _get(url)
    assert resp.status_code == 200 and resp.content == FILES["sub/图 b+c%.jpg"]
    assert _error(_get(_with_query(url, x_oss_process="image/resize,w_30"))) == (
        403, "SignatureDoesNotMatch")
    assert _error(_get(_with_query(url, Expires=str(int(q["Expires"]) + 60)))) == (
        403, "SignatureDoesNotMatch")
    assert _error(_get(_with_query(url, security_token=None))) == (403, "InvalidAccessKeyId")
    for bad in ("soon", "0", "9" * 30):
        assert _error(_get(_with_query(url, Expires=bad))) == (400, "InvalidArgument")
    world.later(timedelta(hours=2))
    assert _error(_get(url)) == (403, "AccessDenied")


def test_ls_and_show_give_signed_urls(make_world: Callable[..., World]) -> None:
    world = make_world()
    code, out, err = world.run("ls", "--signed", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == len(FILES)
    expires_at = {r["url_expires_at"] for r in rows}
    assert len(expires_at) == 1  # one signing moment per command
    moment = datetime.fromisoformat(expires_at.pop().replace("Z", "+00:00"))
    assert (moment - datetime.now(timezone.utc)).total_seconds() == pytest.approx(3600, abs=60)
    for row in rows:
        assert "x-oss-signature=" in row["url"]
        resp = _get(row["url"])
        assert resp.status_code == 200
        assert hashlib.sha256(resp.content).hexdigest() == row["sha256"]
    code, out, _ = world.run("ls", "--public", "--json")
    assert {r["url"] for r in json.loads(out)} == {r["url"].split("?")[0] for r in rows}
    assert all("url_expires_at" not in r for r in json.loads(out))
    key = rows[0]["key"]
    code, out, _ = world.run("show", key, "--signed", "--process", "image/resize,w_64")
    url_line = next(line for line in out.splitlines() if line.startswith("url:"))
    shown = url_line.split(None, 1)[1]
    assert "x-oss-process=image%2Fresize%2Cw_64" in shown and _get(shown).status_code == 200


def test_python_api(make_world: Callable[..., World]) -> None:
    world = make_world()
    with Ledger.open(world.ledger, readonly=True) as ledger:
        plain = ledger.url_for(world.path("a.jpg"))
        assert plain and "?" not in plain  # unchanged by default
        with pytest.raises(SignerMissing, match=r"url_signer\(.*\(ossync\.stores\)"):
            ledger.url_for(world.path("a.jpg"), signed=True)
        ledger.signer = url_signer(config_for(world.cfg))
        url = ledger.url_for(world.path("a.jpg"), signed=True,
                             expires=timedelta(minutes=5), process="image/resize,w_300")
        assert url and _query(url)["x-oss-expires"] == "300"
        assert _get(url).content == FILES["a.jpg"]
        assert ledger.url_for(world.path("nope.jpg"), signed=True) is None
        [item] = ledger.uploads(folder="cam")[:1]
        assert ledger.url_of(item, signed=True) and ledger.url_of(item) == item.url


def test_the_endpoint_accepts_the_official_sdks_presigned_urls(
        make_world: Callable[..., World]) -> None:
    """An independent client: the endpoint's checks are not just our signer's mirror."""
    world = make_world(sts=True)
    keys = [_key_of(world, name) for name in FILES]
    creds = Credentials(ACCESS_KEY_ID, SECRET, STS_TOKEN)
    client = _sdk_client(world.server.endpoint, creds, use_path_style=True)
    for key in keys:
        get = client.presign(oss_v2.GetObjectRequest(bucket=BUCKET, key=key,
                                                     process="image/resize,w_300"))
        assert _get(get.url).status_code == 200
        head = client.presign(oss_v2.HeadObjectRequest(bucket=BUCKET, key=key))
        assert _get(head.url, "HEAD").status_code == 200
    signer = url_signer(config_for(world.cfg))
    assert _get(signer.sign(BUCKET, keys[0], method="HEAD"), "HEAD").status_code == 200


def test_malformed_presigned_queries(make_world: Callable[..., World]) -> None:
    world = make_world()
    url = world.url("a.jpg", "--signed")
    for value in ("0", "604801", "soon", "-5"):
        resp = _get(_with_query(url, x_oss_expires=value))
        assert _error(resp) == (400, "InvalidArgument"), value
    assert _error(_get(_with_query(url, x_oss_signature=None))) == (400, "InvalidArgument")
    signer = url_signer(config_for(world.cfg))
    ahead = datetime.now(timezone.utc) + timedelta(minutes=30)
    key = _key_of(world, "a.jpg")
    assert _error(_get(signer.sign(BUCKET, key, now=ahead))) == (403, "RequestTimeTooSkewed")
    assert _get(signer.sign(BUCKET, key, now=datetime.now(timezone.utc)
                            + timedelta(minutes=5))).status_code == 200


def _key_of(world: World, name: str) -> str:
    with Ledger.open(world.ledger, readonly=True) as ledger:
        item = ledger.item(world.path(name))
    assert item is not None and item.key
    return item.key
