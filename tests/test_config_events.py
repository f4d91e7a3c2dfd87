"""`webhooks:`, `on_upload:` and the heartbeat in the config: secrets in the Standard
Webhooks form and readable by the daemon alone, http(s) URLs without credentials, names
that identify each endpoint, and a command that is a list of arguments, never a shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from ossync.config import Config, parse_config
from ossync.config.events import fill, name_from_url
from ossync.core.errors import ConfigError

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the spec's example: 24 bytes
ENV = {"OSS_ACCESS_KEY_ID": "LTAI5tOssyncTestKey01", "OSS_ACCESS_KEY_SECRET": "s3cr3t-s3cr3t"}


def _secret(folder: Path, text: str = SECRET, mode: int = 0o600,
            name: str = "webhook_secret") -> Path:
    path = folder / name
    path.write_text(text + "\n")
    path.chmod(mode)
    return path


def _parse(tmp_path: Path, env: dict[str, str] | None = None, **top: Any) -> Config:
    drop = tmp_path / "drop"
    drop.mkdir(exist_ok=True)
    doc = {"oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com",
                   "bucket": "my-bucket"},
           "ledger": "ledger.db", "watch": [{"path": str(drop), "label": "drop"}], **top}
    return parse_config(doc, base=tmp_path, env={**ENV, **(env or {})})


def _problems(tmp_path: Path, **top: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _parse(tmp_path, **top)
    text = "\n".join(caught.value.problems)
    assert SECRET not in text and SECRET[6:] not in text
    return text


def test_a_webhook_with_its_defaults(tmp_path: Path) -> None:
    secret = _secret(tmp_path)
    config = _parse(tmp_path, webhooks=[{"url": "https://app.example.com:8443/hooks/ossync",
                                         "secret_file": str(secret)}])
    [hook] = config.webhooks
    assert hook.name == "app.example.com-8443-hooks-ossync"
    assert hook.url == "https://app.example.com:8443/hooks/ossync"
    assert hook.secret == SECRET and SECRET not in repr(hook)
    assert (hook.events, hook.folders) == (None, None)
    assert (hook.timeout, hook.retry_max_delay, hook.max_age) == (10.0, 300.0, 3 * 86400.0)
    assert config.on_upload is None and config.heartbeat is None
    assert SECRET not in repr(config.settings)


def test_the_secret_comes_from_systemd_credentials_by_default(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    _secret(creds)
    config = _parse(tmp_path, env={"CREDENTIALS_DIRECTORY": str(creds)},
                    webhooks=[{"url": "http://127.0.0.1:9/hook", "name": "local",
                               "events": ["file.uploaded", "file.failed"],
                               "folders": ["drop"], "max_age": "1h"}])
    [hook] = config.webhooks
    assert hook.secret_source == str(creds / "webhook_secret")
    assert hook.events == ("file.uploaded", "file.failed") and hook.folders == ("drop",)
    assert hook.max_age == 3600.0
    assert not config.warnings  # loopback over http is fine


@pytest.mark.parametrize(("text", "mode", "reason"), [
    (SECRET, 0o640, "can be read by its group: make it the daemon user's alone"),
    (SECRET, 0o604, "can be read by anyone on this host"),
    ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 0o600, "the secret must be whsec_ and the base64"),
    ("whsec_c2hvcnQ=", 0o600, "of 24 to 64 random bytes"),
    ("whsec_not base64!!", 0o600, "the secret must be whsec_"),
])
def test_a_secret_others_can_read_or_in_another_form_is_refused(
        tmp_path: Path, text: str, mode: int, reason: str) -> None:
    secret = _secret(tmp_path, text, mode)
    problems = _problems(tmp_path, webhooks=[{"url": "https://a.example/h",
                                              "secret_file": str(secret)}])
    assert problems.startswith("webhooks[0].secret_file: ") and reason in problems
    assert len(problems.splitlines()) == 1 and text not in problems


def test_no_secret_at_all_is_a_problem(tmp_path: Path) -> None:
    problems = _problems(tmp_path, webhooks=[{"url": "https://a.example/h"}])
    assert "webhooks[0].secret_file: missing" in problems and "openssl rand" in problems


@pytest.mark.parametrize(("url", "reason"), [
    ("ftp://a.example/h", "is not an http(s) URL"),
    ("https://user:pw@a.example/h", "holds a user or password"),
    ("https://a.example/h#x", "fragment"),
    ("https://a.example:99999/h", "the port"),
])
def test_only_plain_http_or_https_urls(tmp_path: Path, url: str, reason: str) -> None:
    secret = _secret(tmp_path)
    problems = _problems(tmp_path, webhooks=[{"url": url, "secret_file": str(secret)}])
    assert problems.startswith("webhooks[0].url: ") and reason in problems


def test_names_identify_endpoints(tmp_path: Path) -> None:
    secret = str(_secret(tmp_path))
    twice = _problems(tmp_path, webhooks=[{"url": "https://a.example/h", "secret_file": secret},
                                          {"url": "https://a.example/h", "secret_file": secret}])
    assert "the name 'a.example-h' is used twice" in twice
    reserved = _problems(tmp_path, webhooks=[{"url": "https://a.example/h", "name": "on_upload",
                                              "secret_file": secret}])
    assert "on_upload is the command hook's" in reserved
    odd = _problems(tmp_path, webhooks=[{"url": "https://a.example/h", "name": "a b",
                                         "secret_file": secret, "events": ["file.moved"],
                                         "colour": "red"}])
    assert "webhooks[0].name: must be a name" in odd
    assert "webhooks[0].events: must be one of file.uploaded" in odd
    assert "webhooks[0].colour: unknown key" in odd
    assert name_from_url("https://[::1]:8080/") == "1-8080"


def test_plain_http_off_this_host_and_unknown_folders_are_warned_of(tmp_path: Path) -> None:
    secret = str(_secret(tmp_path))
    config = _parse(tmp_path, webhooks=[{"url": "http://app.example/h", "secret_file": secret,
                                         "folders": ["drop", "camera9"]}])
    assert any("plain http" in w for w in config.warnings)
    assert any("'camera9' is not the label of a watch folder" in w for w in config.warnings)


def test_on_upload_is_a_list_of_arguments(tmp_path: Path) -> None:
    config = _parse(tmp_path, on_upload=[sys.executable, "-c", "pass", "{path}", "{url}",
                                         "{{literal}}"], on_upload_timeout="5s",
                    heartbeat_url="https://hc-ping.com/abc", heartbeat_interval="30s")
    assert config.on_upload is not None
    assert config.on_upload.argv[0] == sys.executable and config.on_upload.timeout == 5.0
    assert config.heartbeat is not None and config.heartbeat.interval == 30.0
    assert config.heartbeat.url == "https://hc-ping.com/abc"
    assert "a shell" in _problems(tmp_path, on_upload="/bin/echo {path}")
    assert "unknown placeholder {name}" in _problems(tmp_path, on_upload=["/bin/echo",
                                                                          "{name}"])
    assert "not a program this user can run" in _problems(tmp_path,
                                                          on_upload=["no-such-prog-x"])


def test_placeholders_fill_one_argument_each_whatever_they_hold() -> None:
    argv = ("/bin/hook", "{path}", "--url={url}", "{{path}}", "{size}")
    values = {"path": "/d/$(touch x); rm -rf ~ `id`.jpg", "url": "https://b/k?a=1&b=2"}
    assert fill(argv, values) == ["/bin/hook", "/d/$(touch x); rm -rf ~ `id`.jpg",
                                  "--url=https://b/k?a=1&b=2", "{path}", ""]


def test_the_config_knows_every_event_type() -> None:
    """`webhooks[].events` is checked against the types of ossync/ledger/events.py (the
    config may not import the ledger: its list must say the same)."""
    from ossync.config.keys_events import EVENT_TYPES
    from ossync.ledger.events import NAMES

    assert EVENT_TYPES == NAMES


def test_check_config_names_the_endpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    import io

    import yaml

    from ossync.cli.main import main

    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    secret = _secret(tmp_path)
    drop = tmp_path / "drop"
    drop.mkdir()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "my-bucket"},
        "ledger": str(tmp_path / "ledger.db"), "watch": [{"path": str(drop)}],
        "webhooks": [{"url": "https://a.example/h", "secret_file": str(secret),
                      "events": ["file.uploaded"]}],
        "on_upload": [sys.executable, "{path}"], "heartbeat_url": "https://hc.example/x"}))
    out = io.StringIO()
    assert main(["check-config", "-c", str(config)], out, io.StringIO()) == 0
    text = out.getvalue()
    assert f"webhook a.example-h: https://a.example/h (file.uploaded), signed with {secret}" \
        in text
    assert f"on_upload: {sys.executable} {{path}}" in text and "heartbeat: every 60s" in text
    assert SECRET not in text
