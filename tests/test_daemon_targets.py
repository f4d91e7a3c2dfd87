"""The daemon end to end once per target — OSS (local endpoint), S3 by POST (moto's
server), S3 by PUT (the local endpoint's SigV4 side), a local directory — plus the
commands that read the config: check-config, put, url."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from ossync.cli import main
from ossync.config import parse_config
from ossync.core.errors import ConfigError
from ossync.localoss import LocalOSS

from .conftest import ACCESS_KEY_ID, BUCKET, REGION, SECRET
from .daemon_helpers import config_for, daemon_thread, jpeg_bytes, uploaded_paths, uploads, wait_for
from .s3_servers import MOTO_REGION, Moto, moto  # noqa: F401  (a fixture)

pytestmark = [pytest.mark.timeout(120), pytest.mark.usefixtures("moto")]
TARGETS = ["oss", "s3-post-moto", "s3-put-local", "local"]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)


def _target_section(name: str, request: pytest.FixtureRequest,
                    tmp_path: Path) -> tuple[dict[str, Any], str, Callable[[str], bytes]]:
    """The config's target section, the expected URL base, and how to read an object."""
    if name == "local":
        root = tmp_path / "www"
        section = {"local": {"path": str(root), "create": True,
                             "base_url": "https://img.example.com/photos"}}
        return section, "https://img.example.com/photos", lambda key: (root / key).read_bytes()
    if name == "s3-post-moto":
        server: Moto = request.getfixturevalue("moto")
        bucket = server.new_bucket()
        section = {"s3": {"endpoint": server.endpoint, "region": MOTO_REGION, "bucket": bucket,
                          "access_key_id": "${MOTO_KEY}", "secret_access_key": "moto"}}
        return section, f"{server.endpoint}/{bucket}", lambda key: server.fetch(bucket, key)
    local: LocalOSS = request.getfixturevalue("local_oss")
    store = local.app.buckets[BUCKET]

    def fetch(key: str) -> bytes:
        opened = store.open(key)
        assert opened is not None
        with opened[1] as fh:
            return fh.read()

    if name == "oss":
        request.getfixturevalue("oss_env")
        section = {"oss": {"endpoint": local.endpoint, "region": REGION, "bucket": BUCKET}}
    else:
        request.getfixturevalue("aws_env")
        section = {"s3": {"endpoint": local.endpoint, "region": REGION, "bucket": BUCKET,
                          "method": "put"}}
    return section, f"{local.endpoint}/{BUCKET}", fetch


@pytest.mark.parametrize("name", TARGETS)
def test_daemon_uploads_to_each_target(name: str, request: pytest.FixtureRequest,
                                       tmp_path: Path, drop: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTO_KEY", "moto")
    section, base, fetch = _target_section(name, request, tmp_path)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump({
        **section, "ledger": str(tmp_path / "ledger.db"), "settle_seconds": 0.3,
        "date_source": "mtime", "watch": [{"path": str(drop), "label": "drop"}],
    }, allow_unicode=True), encoding="utf-8")
    files = {"IMG_0001.jpg": jpeg_bytes(30_000), "图 a+b #1.jpg": jpeg_bytes(20_000),
             "copy of IMG_0001.jpg": b""}
    files["copy of IMG_0001.jpg"] = files["IMG_0001.jpg"]
    config = config_for(cfg)
    with daemon_thread(config):
        for file_name, data in files.items():
            (drop / file_name).write_bytes(data)
        wait_for(lambda: len(uploaded_paths(config.ledger)) == 3, 60, "3 files recorded")
    rows = uploads(config.ledger)
    assert len(rows) == 2  # the copy is recorded against the first object
    for row in rows:
        assert fetch(row.key) == files[Path(row.path).name]
        assert row.url == f"{base}/{quote(row.key, safe='/')}"
        assert row.bucket == config.bucket and row.sha256 and row.crc64
    _commands_read_the_config(name, cfg, drop, base, tmp_path)


def _run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def _commands_read_the_config(name: str, cfg: Path, drop: Path, base: str,
                              tmp_path: Path) -> None:
    code, out, err = _run("check-config", "-c", str(cfg))
    assert code == 0, err
    kind = name.split("-")[0]
    assert f"  target: {kind} " in out
    assert ("access key id" in out) == (kind != "local")
    code, out, err = _run("url", "-c", str(cfg), str(drop / "IMG_0001.jpg"))
    assert code == 0 and out.startswith(base + "/"), err
    extra = tmp_path / "put.jpg"
    extra.write_bytes(jpeg_bytes(7_000))
    code, out, err = _run("put", "-c", str(cfg), str(extra))
    assert code == 0 and out.startswith(base + "/"), err
    if kind != "oss":
        code, out, err = _run("url", "--signed", "-c", str(cfg), str(drop / "IMG_0001.jpg"))
        assert code == 2 and "oss: targets only" in err and "--public" in err


# --- config ----------------------------------------------------------------------------

AWS = {"AWS_ACCESS_KEY_ID": "AKIAOSSYNCTEST", "AWS_SECRET_ACCESS_KEY": "aws-secret"}


def _problems(doc: dict[str, Any], tmp_path: Path, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config({**doc, "ledger": "l.db"}, base=tmp_path, env=env)
    return info.value.problems


def test_s3_config_defaults(tmp_path: Path) -> None:
    config = parse_config({"s3": {"endpoint": "https://s3.eu-west-1.amazonaws.com",
                                  "bucket": "my.bucket-1"}, "ledger": "l.db"},
                          base=tmp_path, env=AWS)
    assert config.s3 is not None and config.oss is None and config.local is None
    assert (config.s3.region, config.s3.addressing, config.s3.method) == (
        "eu-west-1", "virtual", "post")
    assert config.s3.if_none_match and config.s3.policy_expires == 900
    assert (config.target_name, config.bucket) == ("s3", "my.bucket-1")
    assert config.credentials is not None
    assert config.credentials.access_key_id == "AKIAOSSYNCTEST"
    local = parse_config({"s3": {"endpoint": "http://127.0.0.1:9000", "bucket": "b-1"},
                          "ledger": "l.db"}, base=tmp_path, env=AWS)
    assert local.s3 is not None
    assert (local.s3.addressing, local.s3.region) == ("path", "us-east-1")


def test_s3_config_problems(tmp_path: Path) -> None:
    problems = _problems({"s3": {"endpoint": "http://127.0.0.1:9000", "bucket": "B_ad",
                                 "addressing": "virtual", "method": "patch"}}, tmp_path, {})
    text = "\n".join(problems)
    for expected in ("s3.bucket:", "s3.addressing: virtual needs a host name",
                     "s3.method: must be one of post, put", "AWS_ACCESS_KEY_ID"):
        assert expected in text
    r2 = {"endpoint": "https://acct.r2.cloudflarestorage.com", "bucket": "b-1",
          "region": "auto"}
    assert any("Cloudflare R2 takes no SigV4 POST" in p for p in _problems({"s3": r2},
                                                                          tmp_path, AWS))
    config = parse_config({"s3": {**r2, "method": "put"}, "ledger": "l.db"}, base=tmp_path,
                          env=AWS)
    assert config.s3 is not None and config.s3.method == "put"


def test_s3_credentials_from_config_files_and_environment(tmp_path: Path) -> None:
    doc = {"s3": {"endpoint": "https://s3.amazonaws.com", "bucket": "b-1",
                  "access_key_id": "${MY_KEY}", "secret_access_key": "${MY_SECRET}"},
           "ledger": "l.db"}
    config = parse_config(doc, base=tmp_path, env={"MY_KEY": "AKFILE", "MY_SECRET": "s"})
    assert config.credentials is not None and config.credentials.access_key_id == "AKFILE"
    creds_dir = tmp_path / "creds"
    creds_dir.mkdir()
    (creds_dir / "aws_secret_access_key").write_text("from-credential-file\n")
    (creds_dir / "aws_session_token").write_text("token\n")
    plain = {"s3": {"endpoint": "https://s3.amazonaws.com", "bucket": "b-1"}, "ledger": "l.db"}
    config = parse_config(plain, base=tmp_path, env={**AWS, "CREDENTIALS_DIRECTORY":
                                                     str(creds_dir)})
    assert config.credentials is not None
    assert (config.credentials.access_key_id, config.credentials.access_key_secret,
            config.credentials.security_token) == ("AKIAOSSYNCTEST", "from-credential-file",
                                                   "token")


def test_exactly_one_target(tmp_path: Path) -> None:
    both = {"oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "b-1"},
            "local": {"path": str(tmp_path)}}
    assert "oss, local: configure exactly one target (oss:, s3: or local:)" in _problems(
        both, tmp_path, {"OSS_ACCESS_KEY_ID": "a", "OSS_ACCESS_KEY_SECRET": "b"})
    assert any("or an s3: or local: target" in p for p in _problems({}, tmp_path, {}))


def test_local_config(tmp_path: Path) -> None:
    config = parse_config({"local": {"path": "www", "create": True,
                                     "base_url": "https://img.example.com/i/"},
                           "ledger": "l.db"}, base=tmp_path, env={})
    assert config.local is not None and config.local.path == tmp_path / "www"
    assert (tmp_path / "www").is_dir() and config.credentials is None
    assert (config.target_name, config.bucket) == ("local", str(tmp_path / "www"))
    problems = _problems({"local": {"path": "nope", "base_url": "ftp://x"}}, tmp_path, {})
    assert any(p.startswith("local.path:") and "create: true" in p for p in problems)
    assert any(p.startswith("local.base_url:") for p in problems)
