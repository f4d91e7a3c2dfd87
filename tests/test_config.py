"""Config: every problem reported at once with its field path; secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ossync.cli import main
from ossync.config import load_config, parse_config
from ossync.config.stores import region_from_endpoint
from ossync.core.errors import ConfigError

from .conftest import ACCESS_KEY_ID, SECRET, STS_TOKEN

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}


def _parse(doc: dict[str, object], tmp_path: Path, env: dict[str, str] | None = None):
    return parse_config(doc, base=tmp_path, env=ENV if env is None else env)


def _minimal(**oss: object) -> dict[str, object]:
    return {"oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "my-bucket",
                    **oss}, "ledger": "ledger.db"}


def test_minimal_config_gets_defaults(tmp_path: Path) -> None:
    config = _parse(_minimal(), tmp_path)
    assert config.oss.region == "cn-hangzhou"  # read from the endpoint
    assert config.oss.signature_version == 4
    assert config.oss.policy_expires == 900
    assert config.ledger == tmp_path / "ledger.db"
    assert config.oss.credentials.access_key_id == ACCESS_KEY_ID
    assert config.workers == 4


def test_sample_config_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SECRET)
    sample = Path(__file__).parent.parent / "config.sample.yaml"
    copy = tmp_path / "config.yaml"
    drop = tmp_path / "drop"
    copy.write_text(sample.read_text().replace("/srv/drop/camera1", str(drop))
                    .replace("/var/lib/ossync/ledger.db", str(tmp_path / "ledger.db")))
    config = load_config(copy)
    assert config.watch and config.watch[0].path.is_dir()
    assert not config.warnings


def test_all_problems_are_reported_with_paths(tmp_path: Path) -> None:
    doc = {
        "oss": {"endpoint": "ftp://nope", "bucket": "Bad_Bucket", "signature_version": 3,
                "policy_expires": "30d"},
        "workers": 0,
        "watch": [{"path": str(tmp_path)}, {"path": str(tmp_path / "missing")},
                  {"path": str(tmp_path), "label": "x", "dedupe": "maybe",
                   "name": "{nope}.jpg"}],
    }
    with pytest.raises(ConfigError) as info:
        _parse(doc, tmp_path)
    text = "\n".join(info.value.problems)
    for expected in ("oss.endpoint:", "oss.bucket:", "oss.signature_version:",
                     "oss.policy_expires:", "workers:", "watch[1].path: ", "does not exist",
                     "watch[2].dedupe:", "watch[2].name: unknown field {nope}"):
        assert expected in text
    assert len(info.value.problems) >= 8


def test_unknown_keys_warn_with_their_path_when_asked(tmp_path: Path) -> None:
    doc = _minimal(colour="blue")
    doc["frobnicate"] = 1
    doc["unknown_keys"] = "warn"
    config = _parse(doc, tmp_path)
    assert "oss.colour: unknown key, ignored" in config.warnings
    assert "frobnicate: unknown key, ignored" in config.warnings


def test_missing_credentials_name_the_variables(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(_minimal(), tmp_path, env={})
    assert "OSS_ACCESS_KEY_ID" in str(info.value)


def test_credentials_from_file_with_env_expansion(tmp_path: Path) -> None:
    doc = _minimal(access_key_id="AKFILE", access_key_secret="${MY_SECRET}",
                   security_token="${MY_TOKEN}")
    config = _parse(doc, tmp_path, env={"MY_SECRET": "s3cr3t-value", "MY_TOKEN": STS_TOKEN})
    assert config.oss.credentials.access_key_id == "AKFILE"
    assert config.oss.credentials.access_key_secret == "s3cr3t-value"
    assert config.oss.credentials.security_token == STS_TOKEN


def test_unset_variable_is_named_not_shown(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _parse(_minimal(access_key_secret="${NOT_SET_ANYWHERE}"), tmp_path, env={})
    assert "oss.access_key_secret: environment variable NOT_SET_ANYWHERE is not set" in str(
        info.value)


def test_credentials_from_systemd_credentials_directory(tmp_path: Path) -> None:
    creds_dir = tmp_path / "creds"
    creds_dir.mkdir()
    (creds_dir / "oss_access_key_secret").write_text("from-credential-file\n")
    env = {"CREDENTIALS_DIRECTORY": str(creds_dir), "OSS_ACCESS_KEY_ID": "AKENV"}
    config = _parse(_minimal(), tmp_path, env=env)
    assert config.oss.credentials.access_key_id == "AKENV"
    assert config.oss.credentials.access_key_secret == "from-credential-file"


def test_sts_token_from_environment(tmp_path: Path) -> None:
    config = _parse(_minimal(), tmp_path, env={**ENV, "OSS_SESSION_TOKEN": STS_TOKEN})
    assert config.oss.credentials.security_token == STS_TOKEN


@pytest.mark.parametrize(("endpoint", "region"), [
    ("https://oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou"),
    ("https://oss-cn-shanghai-internal.aliyuncs.com", "cn-shanghai"),
    ("https://oss-ap-southeast-1.aliyuncs.com", "ap-southeast-1"),
    ("https://img.example.com", None),
])
def test_region_from_endpoint(endpoint: str, region: str | None) -> None:
    assert region_from_endpoint(endpoint) == region


def test_custom_domain_needs_region_and_strips_oss_prefix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"oss\.region"):
        _parse(_minimal(endpoint="https://img.example.com", cname=True), tmp_path)
    config = _parse(_minimal(endpoint="https://img.example.com", cname=True,
                             region="oss-cn-hangzhou"), tmp_path)
    assert config.oss.region == "cn-hangzhou"


def test_check_config_exits_78_and_never_prints_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SECRET)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(_minimal()))
    assert main(["check-config", "-c", str(good)]) == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"oss": {"endpoint": "x", "bucket": "B"},
                                   "watch": [{"path": "/nonexistent/ossync"}]}))
    assert main(["check-config", "-c", str(bad)]) == 78
    broken = tmp_path / "broken.yaml"
    broken.write_text("oss: [unclosed\n")
    assert main(["check-config", "-c", str(broken)]) == 78
    assert main(["check-config", "-c", str(tmp_path / "absent.yaml")]) == 78
    out, err = capsys.readouterr()
    assert "OK" in out
    assert "watch[0].path: /nonexistent/ossync does not exist" in err
    assert "not valid YAML: line" in err
    assert "cannot read the file" in err
    assert SECRET not in out + err


# --- transfer: big files, parts, bandwidth -------------------------------------------


def test_transfer_defaults_follow_the_store(tmp_path: Path) -> None:
    from ossync.core.limits import DEFAULT_MULTIPART_THRESHOLD, OSS_MAX_OBJECT, S3_MAX_OBJECT

    config = _parse(_minimal(), tmp_path)
    assert config.max_file_size == OSS_MAX_OBJECT  # 10,000 parts of 5 GiB
    assert config.multipart_threshold == DEFAULT_MULTIPART_THRESHOLD
    assert (config.part_size, config.part_concurrency, config.max_bandwidth) == (None, 4, None)
    s3 = {"s3": {"endpoint": "http://127.0.0.1:9", "bucket": "bkt", "region": "us-east-1",
                 "access_key_id": "a", "secret_access_key": "b"}}
    assert _parse(s3, tmp_path).max_file_size == S3_MAX_OBJECT


def test_transfer_keys_are_read(tmp_path: Path) -> None:
    doc = {**_minimal(), "max_file_size": "20GiB", "multipart_threshold": "64MiB",
           "part_size": "32MiB", "part_concurrency": 8,
           "max_bandwidth": ["08:00-19:00 5MB/s", "100Mbit/s"]}
    config = _parse(doc, tmp_path)
    assert config.max_file_size == 20 * 1024**3
    assert (config.multipart_threshold, config.part_size, config.part_concurrency) == (
        64 * 1024**2, 32 * 1024**2, 8)
    assert config.max_bandwidth is not None
    assert config.max_bandwidth.default == 12.5e6
    assert config.max_bandwidth.windows[0].rate == 5e6
    assert _parse({**_minimal(), "max_bandwidth": "off"}, tmp_path).max_bandwidth is None


def test_transfer_problems_name_the_limit(tmp_path: Path) -> None:
    doc = {**_minimal(), "max_file_size": "60TB", "multipart_threshold": "6GiB",
           "part_size": "50KB", "part_concurrency": 0, "max_bandwidth": "fast"}
    with pytest.raises(ConfigError) as info:
        _parse(doc, tmp_path)
    text = "\n".join(info.value.problems)
    for expected in ("max_file_size: must be a size of at most 50000GiB, not 60TB",
                     "multipart_threshold: must be a size of at most 5GiB, not 6GiB",
                     "part_size: must be a size of at least 100KiB, not 50kB",
                     "part_concurrency: must be a whole number of at least 1, not 0",
                     "max_bandwidth: 'fast' is not a rate"):
        assert expected in text, text
    s3 = {"s3": {"endpoint": "http://127.0.0.1:9", "bucket": "bkt", "region": "us-east-1",
                 "access_key_id": "a", "secret_access_key": "b"}, "part_size": "1MiB"}
    with pytest.raises(ConfigError, match="part_size: S3 takes parts of 5MiB to 5GiB"):
        _parse(s3, tmp_path)
    s3["max_file_size"] = "6TiB"
    with pytest.raises(ConfigError, match="max_file_size: S3 stores objects of at most 5TiB"):
        _parse(s3, tmp_path)
