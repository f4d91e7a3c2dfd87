"""Credentials that rotate, with real parts: a fake metadata service and STS endpoint on
127.0.0.1, a real credential-process script, credential files rewritten under the
reader, and the strict local endpoint with an STS issuer that refuses expired tokens
with SecurityTokenExpired, as OSS does."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from ossync.cli import main
from ossync.config import parse_config
from ossync.core.credentials import (
    Credentials,
    CredentialsUnavailable,
    StaticSupply,
    signing_lifetime,
)
from ossync.core.errors import ConfigError, StoreError
from ossync.credentials import (
    EC2,
    ECS,
    CredentialError,
    FileSource,
    MetadataSource,
    ProcessSource,
    RotatingCredentials,
    StaticSource,
)
from ossync.credentials.documents import credentials_from_json, mask
from ossync.credentials.rotating import plan
from ossync.localoss import LocalOSS
from ossync.localoss.sts import StsIssuer
from ossync.targets.oss.presign import UrlSigner
from ossync.targets.oss.target import OssTarget
from ossync.targets.s3.target import S3Target

from .conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET
from .credential_servers import FakeCloud, credential_script, document, fake_cloud
from .daemon_helpers import jpeg_bytes, wait_for

pytestmark = pytest.mark.timeout(120)
ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}


@pytest.fixture
def issuer() -> StsIssuer:
    return StsIssuer()


@pytest.fixture
def sts_oss(tmp_path: Path, creds: Credentials, issuer: StsIssuer):
    server = LocalOSS(tmp_path / "oss-root", [BUCKET], creds, region=REGION, sts=issuer).start()
    try:
        yield server
    finally:
        server.stop()


def _target(server: LocalOSS, supply, **kw) -> OssTarget:
    return OssTarget(endpoint=server.endpoint, bucket=BUCKET, region=REGION,
                     credentials=supply, **kw)


def _upload(target: OssTarget, tmp_path: Path, name: str) -> str:
    path = tmp_path / name
    path.write_bytes(jpeg_bytes(2000))
    return target.upload(path, f"rot/{name}", content_type="image/jpeg").key


def _error(resp: requests.Response) -> tuple[int, str, str]:
    body = resp.content or base64.b64decode(resp.headers.get("x-oss-err", ""))
    text = body.decode()
    code = text.split("<Code>")[1].split("</Code>")[0]
    message = text.split("<Message>")[1].split("</Message>")[0]
    return resp.status_code, code, message


# --- the documents sources hand out ---------------------------------------------------


def test_documents_in_alibaba_and_aws_shapes() -> None:
    ali = credentials_from_json(json.dumps({
        "AccessKeyId": "STS.a1", "AccessKeySecret": "s1", "SecurityToken": "t1",
        "Expiration": "2026-11-25T10:00:00Z"}), "x")
    assert (ali.access_key_id, ali.access_key_secret, ali.security_token) == (
        "STS.a1", "s1", "t1")
    assert ali.expires_at == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    aws = credentials_from_json(json.dumps({
        "Version": 1, "AccessKeyId": "ASIA1", "SecretAccessKey": "s2", "SessionToken": "t2",
        "Expiration": "2026-11-25T18:00:00+08:00"}), "x")
    assert (aws.access_key_secret, aws.security_token) == ("s2", "t2")
    assert aws.expires_at == datetime(2026, 11, 25, 10, tzinfo=timezone.utc)
    long_term = credentials_from_json('{"AccessKeyId": "LTAI1", "AccessKeySecret": "s"}', "x")
    assert long_term.expires_at is None and long_term.security_token is None


@pytest.mark.parametrize(("text", "reason"), [
    ('{"AccessKeyId": "STS.a", "AccessKeySecret": "very-secret-value", "Secur', "not complete"),
    ("", "empty"),
    ('{"AccessKeyId": "STS.a"}', "AccessKeySecret"),
    ('{"Code": "Failed", "AccessKeyId": "a", "AccessKeySecret": "very-secret-value"}', "Code"),
    ('{"Version": 2, "AccessKeyId": "a", "SecretAccessKey": "very-secret-value"}', "Version"),
    ('{"AccessKeyId": "a", "AccessKeySecret": "very-secret-value", "Expiration": "soon"}',
     "ISO 8601"),
    ('["AccessKeyId"]', "JSON object"),
])
def test_bad_documents_are_refused_without_quoting_them(text: str, reason: str) -> None:
    with pytest.raises(CredentialError) as info:
        credentials_from_json(text, "credentials_file /x")
    assert reason in str(info.value)
    assert "very-secret-value" not in str(info.value)


def test_mask_hides_handed_out_keys_and_key_like_strings() -> None:
    creds = Credentials("STS.NUwhatever1", "plainsecret", "tok")
    line = "got STS.NUwhatever1 (secret plainsecret) using LTAI5tQ9x8yZk2Pw1sRt from /usr/bin/x"
    assert mask(line, creds) == "got *** (secret ***) using *** from /usr/bin/x"


def test_refresh_five_minutes_early_or_at_80_percent_for_short_tokens() -> None:
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for life, early in [(timedelta(seconds=20), timedelta(seconds=4)),
                        (timedelta(minutes=10), timedelta(minutes=2)),
                        (timedelta(hours=1), timedelta(minutes=5)),
                        (timedelta(hours=6), timedelta(minutes=5))]:
        issued = plan(Credentials("a", "s", "t", now + life), now)
        assert issued.refresh_at == now + life - early
        assert issued.usable_until is not None and issued.refresh_at < issued.usable_until
        assert issued.usable_until < now + life
    assert plan(Credentials("a", "s"), now).refresh_at is None


# --- which source, in which order --------------------------------------------------------


def _oss(**keys: object) -> dict[str, object]:
    return {"oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "my-bucket",
                    **keys}, "ledger": "ledger.db"}


def test_sources_in_the_documented_order(tmp_path: Path) -> None:
    script = credential_script(tmp_path)
    folder = tmp_path / "creds"
    folder.mkdir()
    (folder / "oss_access_key_secret").write_text("from-credential-file")
    rotating = {"credentials_file": "keys.json", "credential_process": f"{script} x",
                "ecs_ram_role": "auto"}
    env = {**ENV, "CREDENTIALS_DIRECTORY": str(folder)}
    steps = [
        (_oss(access_key_id="AKCONF", access_key_secret="s", **rotating), env, "config"),
        (_oss(**rotating), env, "credentials_directory"),
        (_oss(**rotating), ENV, "environment"),
        (_oss(**rotating), {}, "credentials_file"),
        (_oss(credential_process=f"{script} x", ecs_ram_role="auto"), {}, "credential_process"),
        (_oss(ecs_ram_role="my-role"), {}, "ecs_ram_role"),
        (_oss(), {"ALIBABA_CLOUD_ECS_METADATA": "env-role"}, "ecs_ram_role"),
    ]
    for doc, environ, expected in steps:
        config = parse_config(doc, base=tmp_path, env=environ)
        assert config.credential_source is not None
        assert config.credential_source.kind == expected, (doc, expected)
    config = parse_config(_oss(**rotating), base=tmp_path, env=ENV)
    assert config.oss.credentials is not None  # fixed keys are resolved at load
    assert any("oss.credential_process: not used" in w and "credential_source: "
               "credential_process" in w for w in config.warnings), config.warnings
    source = parse_config(_oss(credentials_file="keys.json"), base=tmp_path, env={}
                          ).credential_source
    assert isinstance(source, FileSource) and source.path == tmp_path / "keys.json"
    role = parse_config(_oss(), base=tmp_path, env={"ALIBABA_CLOUD_ECS_METADATA": "r"}
                        ).credential_source
    assert isinstance(role, MetadataSource) and role.role == "r" and role.flavour is ECS
    assert parse_config(_oss(ecs_ram_role="auto"), base=tmp_path, env={}
                        ).oss.credentials is None  # rotating keys are fetched later


def test_credential_source_pins_one(tmp_path: Path) -> None:
    script = credential_script(tmp_path)
    config = parse_config(_oss(credential_source="credential_process",
                               credential_process=f"{script} http://127.0.0.1:9/sts"),
                          base=tmp_path, env=ENV)
    assert isinstance(config.credential_source, ProcessSource)
    assert not config.warnings
    pinned = parse_config(_oss(credential_source="ecs_ram_role",
                               metadata_url="http://127.0.0.1:9"), base=tmp_path, env=ENV)
    assert isinstance(pinned.credential_source, MetadataSource)
    assert pinned.credential_source.role is None  # asks the service for the role name
    with pytest.raises(ConfigError) as info:
        parse_config(_oss(credential_source="credentials_file"), base=tmp_path, env=ENV)
    assert "oss.credential_source: credentials_file is chosen, but oss.credentials_file is " \
           "not set" in info.value.problems
    with pytest.raises(ConfigError) as info:
        parse_config(_oss(credential_source="environment"), base=tmp_path, env={})
    assert "OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET are not both set" in str(info.value)
    with pytest.raises(ConfigError) as info:
        parse_config(_oss(credential_source="magic"), base=tmp_path, env=ENV)
    assert "oss.credential_source: must be one of auto, config" in str(info.value)


def test_bad_credential_keys_are_reported(tmp_path: Path) -> None:
    doc = _oss(credential_process=str(tmp_path / "missing-helper"),
               metadata_url="ftp://x", ecs_ram_role="auto")
    with pytest.raises(ConfigError) as info:
        parse_config(doc, base=tmp_path, env={})
    text = "\n".join(info.value.problems)
    assert f"oss.credential_process: {tmp_path / 'missing-helper'} is not an executable" in text
    assert "oss.metadata_url:" in text
    with pytest.raises(ConfigError, match="credential_process: nope-not-a-program is not "
                                          "found in PATH"):
        parse_config(_oss(credential_process="nope-not-a-program --x"), base=tmp_path, env={})


def test_s3_sources_use_aws_names(tmp_path: Path) -> None:
    doc = {"s3": {"endpoint": "http://127.0.0.1:9", "bucket": "b-1", "instance_role": "auto",
                  "metadata_url": "http://127.0.0.1:9"}, "ledger": "l.db"}
    source = parse_config(doc, base=tmp_path, env={}).credential_source
    assert isinstance(source, MetadataSource) and source.flavour is EC2
    assert source.kind == "instance_metadata"
    env = {"AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "sk"}
    fixed = parse_config(doc, base=tmp_path, env=env)
    assert isinstance(fixed.credential_source, StaticSource)
    assert "s3.instance_role: not used" in fixed.warnings[0]


# --- the sources themselves --------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["ecs", "ec2"])
def test_metadata_service_in_hardened_token_mode(issuer: StsIssuer, flavour: str) -> None:
    cloud = FakeCloud(issuer, 60, flavour=flavour)
    cloud.token_mode = "required"
    with fake_cloud(cloud) as url:
        source = MetadataSource(flavour=ECS if flavour == "ecs" else EC2, base_url=url)
        creds = source.fetch()
        named = MetadataSource(flavour=ECS if flavour == "ecs" else EC2, base_url=url,
                               role=cloud.role).fetch()
    issued = issuer.find(creds.access_key_id)
    assert issued is not None and creds == issued == named  # the same triple and expiry
    roles = "ram" if flavour == "ecs" else "iam"
    assert cloud.requests[:3] == [
        ("PUT", "/latest/api/token", False),
        ("GET", f"/latest/meta-data/{roles}/security-credentials/", True),
        ("GET", f"/latest/meta-data/{roles}/security-credentials/{cloud.role}", True)]
    assert all(has_token for method, _, has_token in cloud.requests if method == "GET")


def test_metadata_without_hardened_mode_falls_back_unless_forbidden(issuer: StsIssuer) -> None:
    cloud = FakeCloud(issuer, 60)
    cloud.token_mode = "absent"
    with fake_cloud(cloud) as url:
        assert MetadataSource(base_url=url).fetch().access_key_id.startswith("STS.")
        assert [m for m, _, token in cloud.requests] == ["PUT", "GET", "GET"]
        with pytest.raises(CredentialError, match="token request answered HTTP 404"):
            MetadataSource(base_url=url, token_required=True).fetch()
        cloud.down = True
        with pytest.raises(CredentialError, match="answered HTTP 503"):
            MetadataSource(base_url=url).fetch()
        with pytest.raises(CredentialError, match="not found"):
            cloud.down, cloud.token_mode = False, "optional"
            MetadataSource(base_url=url, role="other-role").fetch()
    with pytest.raises(CredentialError, match="unreachable"):
        MetadataSource(base_url=url).fetch()  # the server is gone


def test_credential_process_runs_a_real_script(tmp_path: Path, issuer: StsIssuer,
                                               caplog: pytest.LogCaptureFixture) -> None:
    script = credential_script(tmp_path)
    cloud = FakeCloud(issuer, 60)
    caplog.set_level(logging.INFO, "ossync.credentials")
    with fake_cloud(cloud) as url:
        creds = ProcessSource(f"{script} {url}/sts").fetch()
        assert issuer.find(creds.access_key_id) == creds
        cloud.down = True
        with pytest.raises(CredentialError) as info:
            ProcessSource(f"{script} {url}/sts").fetch()
    assert "exited with status 3" in str(info.value)
    logged = caplog.text
    assert "get-oss-creds (stderr): get-oss-creds: got *** (secret ***)" in logged
    assert "cannot reach the STS endpoint" in logged  # the failing run's stderr, as a warning
    assert creds.access_key_secret not in logged and str(creds.security_token) not in logged
    assert creds.access_key_id not in logged


def test_credential_process_that_hangs_is_stopped(tmp_path: Path) -> None:
    slow = tmp_path / "slow-helper"
    slow.write_text("#!/bin/sh\nsleep 30\n")
    slow.chmod(0o755)
    began = time.monotonic()
    with pytest.raises(CredentialError, match="no answer within 1s"):
        ProcessSource(str(slow), timeout=1.0).fetch()
    assert time.monotonic() - began < 10


def test_credentials_file_half_written_is_retried(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    doc = json.dumps(document(Credentials("STS.x", "file-secret-1", "tok-1",
                                          datetime.now(timezone.utc) + timedelta(hours=1))))
    path.write_text(doc[: len(doc) // 2])
    source = FileSource(path)
    before = source.fingerprint()
    with pytest.raises(CredentialError, match="not complete JSON"):
        source.fetch()
    path.write_text(doc)
    assert source.fingerprint() != before
    assert source.fetch().access_key_secret == "file-secret-1"
    path.unlink()
    with pytest.raises(CredentialError, match="cannot read it"):
        source.fetch()


# --- the local endpoint's STS issuer ---------------------------------------------------


@pytest.mark.slow
def test_local_endpoint_refuses_expired_tokens_like_oss(sts_oss: LocalOSS,
                                                        issuer: StsIssuer,
                                                        tmp_path: Path) -> None:
    keys = issuer.issue(2)
    target = _target(sts_oss, keys)
    assert _upload(target, tmp_path, "fresh.jpg")
    time.sleep(2.2)
    target.supply = StaticSupply(Credentials(keys.access_key_id, keys.access_key_secret,
                                             keys.security_token))  # no expiry known here
    with pytest.raises(StoreError) as info:
        _upload(target, tmp_path, "late.jpg")
    err = info.value
    assert (err.code, err.http_status) == ("SecurityTokenExpired", 403)
    assert err.retryable  # the keys' fault: the file waits for fresh ones
    resp = requests.post(f"{sts_oss.endpoint}/{BUCKET}", timeout=10, data={
        "key": "x.jpg", "policy": "e30=", "x-oss-signature-version": "OSS4-HMAC-SHA256",
        "x-oss-credential": f"{keys.access_key_id}/{datetime.now(timezone.utc):%Y%m%d}/"
                            f"{REGION}/oss/aliyun_v4_request",
        "x-oss-date": f"{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}",
        "x-oss-security-token": str(keys.security_token), "x-oss-signature": "0" * 64},
        files={"file": ("x.jpg", b"x")})
    assert _error(resp) == (403, "SecurityTokenExpired",
                            "The security token you provided has expired.")
    assert "<RequestId>" in resp.text and "<HostId>" in resp.text
    s3 = S3Target(endpoint=sts_oss.endpoint, bucket=BUCKET, region=REGION, method="put",
                  credentials=Credentials(keys.access_key_id, keys.access_key_secret,
                                          keys.security_token))
    with pytest.raises(StoreError) as info:
        s3.upload(tmp_path / "late.jpg", "s3/late.jpg", content_type="image/jpeg")
    assert (info.value.code, info.value.http_status) == ("ExpiredToken", 400)
    s3.close()
    target.close()


# --- rotation, refresh, hold --------------------------------------------------------------


@pytest.mark.slow
def test_rotation_swaps_whole_triples_in_the_background(issuer: StsIssuer) -> None:
    cloud = FakeCloud(issuer, 4, fresh_share=0.8)  # ECS-like: new keys well before expiry
    seen: set[tuple[str, str, str | None]] = set()
    mixed: list[str] = []
    stop = threading.Event()
    with fake_cloud(cloud) as url:
        supply = RotatingCredentials(MetadataSource(base_url=url))
        supply.start()

        def read() -> None:
            while not stop.is_set():
                creds = supply.current()
                issued = issuer.find(creds.access_key_id)
                if issued is None or (issued.access_key_secret, issued.security_token) != (
                        creds.access_key_secret, creds.security_token):
                    mixed.append(creds.access_key_id)
                seen.add((creds.access_key_id, creds.access_key_secret, creds.security_token))

        readers = [threading.Thread(target=read, name=f"test-reader-{i}") for i in range(3)]
        for reader in readers:
            reader.start()
        try:
            wait_for(lambda: len(seen) >= 4, 20, "three rotations")
        finally:
            stop.set()
            for reader in readers:
                reader.join(10)
            supply.stop()
    assert not mixed
    assert supply.ready.is_set()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["oss", "s3-put", "s3-post"])
def test_uploads_go_on_across_instance_role_rotations(sts_oss: LocalOSS, issuer: StsIssuer,
                                                      tmp_path: Path, kind: str) -> None:
    """ECS RAM role (OSS) or EC2 instance profile (S3), 4 s tokens: uploads without a pause
    through at least three rotations, none refused."""
    cloud = FakeCloud(issuer, 4, flavour="ecs" if kind == "oss" else "ec2", fresh_share=0.8)
    cloud.token_mode = "required"
    with fake_cloud(cloud) as url:
        supply = RotatingCredentials(MetadataSource(flavour=ECS if kind == "oss" else EC2,
                                                    base_url=url))
        supply.start()
        target = _target(sts_oss, supply) if kind == "oss" else S3Target(
            endpoint=sts_oss.endpoint, bucket=BUCKET, region=REGION, credentials=supply,
            method=kind.split("-")[1])
        try:
            done = 0
            deadline = time.monotonic() + 30
            while len(issuer.presented) < 4 and time.monotonic() < deadline and done < 2000:
                assert _upload(target, tmp_path, f"{kind}-{done}.jpg")
                done += 1
        finally:
            target.close()
            supply.stop()
    assert len(issuer.presented) >= 4, "fewer than three rotations in 30 s"
    assert done >= 4


@pytest.mark.slow
def test_failed_refresh_keeps_keys_then_holds_then_resumes(
        issuer: StsIssuer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "ossync.credentials")
    cloud = FakeCloud(issuer, 4)
    with fake_cloud(cloud) as url:
        supply = RotatingCredentials(MetadataSource(base_url=url), retry_first=0.2,
                                     retry_max=1.0)
        supply.start()
        try:
            first = supply.current()
            assert first.expires_at is not None
            cloud.down = True
            assert supply.current() == first  # a failed refresh keeps the valid keys
            wait_for(lambda: not supply.ready.is_set(), 10, "hold")
            with pytest.raises(CredentialsUnavailable) as info:
                supply.current()
            assert "no valid credentials: ecs_ram_role: " in str(info.value)
            assert "HTTP 503" in (supply.hold_reason() or "")
            time.sleep(1.5)  # further failures while held are not logged again
            cloud.down = False
            wait_for(supply.ready.is_set, 10, "resume")
            assert supply.current() != first and supply.hold_reason() is None
        finally:
            supply.stop()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("uploads held" in m for m in messages) == 1
    assert any("still using the current ones" in m for m in messages)
    assert any("valid again: uploads resume" in m for m in messages)


@pytest.mark.slow
def test_refused_keys_are_renewed_and_the_upload_retried(
        sts_oss: LocalOSS, issuer: StsIssuer, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    """The server drops keys before the expiry they came with (as after a rotation on
    its side): SecurityTokenExpired → one immediate refresh → the same upload again."""
    caplog.set_level(logging.INFO, "ossync.credentials")
    script = credential_script(tmp_path)
    cloud = FakeCloud(issuer, 6, lie=600)
    with fake_cloud(cloud) as url:
        supply = RotatingCredentials(ProcessSource(f"{script} {url}/sts"))
        supply.start()
        target = _target(sts_oss, supply)
        try:
            assert _upload(target, tmp_path, "before.jpg")
            time.sleep(6.5)  # the server now refuses the first keys; we think them valid
            assert _upload(target, tmp_path, "after.jpg")
            assert target.head("rot/after.jpg") is not None
        finally:
            target.close()
            supply.stop()
    assert cloud.sts_calls == 2 and len(issuer.presented) == 2
    assert any("refused the credentials" in r.getMessage() for r in caplog.records)


def test_one_shot_supply_fetches_on_demand(sts_oss: LocalOSS, issuer: StsIssuer,
                                           tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document(issuer.issue(3600))))
    supply = FileSource(path).supply()
    assert supply.rotates
    target = _target(sts_oss, supply)
    assert _upload(target, tmp_path, "once.jpg")
    target.close()
    path.write_text("{")
    broken = FileSource(path).supply()
    with pytest.raises(CredentialsUnavailable, match="not complete JSON"):
        broken.current()


# --- forms and URLs never outlive their keys ------------------------------------------------


def test_policies_and_urls_expire_with_the_token(sts_oss: LocalOSS, issuer: StsIssuer,
                                                 tmp_path: Path) -> None:
    keys = issuer.issue(120)
    assert keys.expires_at is not None
    now = datetime.now(timezone.utc)
    target = _target(sts_oss, keys, policy_lifetime=900)
    lifetime = target.form_lifetime(keys, now)
    assert now + lifetime <= keys.expires_at and lifetime > timedelta(seconds=100)
    assert signing_lifetime(Credentials("a", "s"), now, timedelta(hours=1)) == timedelta(hours=1)
    with pytest.raises(CredentialsUnavailable):
        signing_lifetime(Credentials("a", "s", "t", now), now, timedelta(hours=1))
    from ossync.targets.oss.signing import post_form_fields
    from ossync.targets.post_policy import PostUpload

    fields = post_form_fields(keys, PostUpload(BUCKET, "k.jpg", 1, "image/jpeg"), region=REGION,
                              now=now, lifetime=lifetime)
    policy = json.loads(base64.b64decode(fields["policy"]))
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.000Z").replace(
        tzinfo=timezone.utc)
    assert expiration <= keys.expires_at
    assert _upload(target, tmp_path, "capped.jpg")  # and the endpoint takes the form
    target.close()
    signer = UrlSigner(keys, sts_oss.endpoint, REGION, expires=7 * 86400)
    url = signer.sign(BUCKET, "rot/capped.jpg", now=now)
    expires = int(parse_qs(urlsplit(url).query)["x-oss-expires"][0])
    assert now.replace(microsecond=0) + timedelta(seconds=expires) <= keys.expires_at
    assert requests.get(url, timeout=10).status_code == 200


# --- check-config and secrets ------------------------------------------------------------


def test_check_config_asks_a_rotating_source_once(tmp_path: Path, issuer: StsIssuer,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN",
                 "CREDENTIALS_DIRECTORY", "ALIBABA_CLOUD_ECS_METADATA"):
        monkeypatch.delenv(name, raising=False)
    script = credential_script(tmp_path)
    cloud = FakeCloud(issuer, 900)
    with fake_cloud(cloud) as url:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(json.dumps(_oss(credential_process=f"{script} {url}/sts")))
        assert main(["check-config", "-c", str(cfg)]) == 0
        out, err = capsys.readouterr()
        cloud.down = True
        assert main(["check-config", "-c", str(cfg)]) == 78
        out2, err2 = capsys.readouterr()
    assert "access key id: STS.… with STS token (from credential_process " in out
    assert "valid until " in out
    assert "oss credentials: credential_process " in err2 and "exited with status 3" in err2
    for keys in [issuer.find(k) for k in list(issuer._issued)]:
        assert keys is not None
        for secret in keys.secrets():
            assert secret not in out + err + out2 + err2


def test_sample_config_documents_every_credential_key() -> None:
    from ossync.config.credential_sources import OSS, S3

    sample = (Path(__file__).parent.parent / "config.sample.yaml").read_text(encoding="utf-8")
    for dialect in (OSS, S3):
        for key in sorted(dialect.known_keys):
            assert f"{key}:" in sample, f"config.sample.yaml does not mention {key}"
        for name in dialect.order:
            assert name in sample, f"config.sample.yaml does not name the source {name}"
