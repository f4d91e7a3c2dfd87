"""The `http:` section: off by default, loopback unless told otherwise, and never another
address without a token; the sample config's block loads as documented."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ossync.config import parse_config
from ossync.config.http import parse_listen
from ossync.core.errors import ConfigError
from tests.conftest import ACCESS_KEY_ID, SECRET
from tests.http_helpers import TOKEN, write_token

ENV = {"OSS_ACCESS_KEY_ID": ACCESS_KEY_ID, "OSS_ACCESS_KEY_SECRET": SECRET}


def _config(tmp_path: Path, http: Any, env: dict[str, str] | None = None) -> Any:
    doc = {"oss": {"endpoint": "https://oss-cn-hangzhou.aliyuncs.com", "bucket": "b-1"},
           "ledger": str(tmp_path / "ledger.db"), "http": http}
    return parse_config(doc, base=tmp_path, env={**ENV, **(env or {})})


def _problems(tmp_path: Path, http: Any, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        _config(tmp_path, http, env)
    return "\n".join(info.value.problems)


def test_off_unless_configured(tmp_path: Path) -> None:
    assert _config(tmp_path, None).http is None
    http = _config(tmp_path, {}).http
    assert (http.host, http.port, http.token, http.listen) == (
        "127.0.0.1", 9469, None, "127.0.0.1:9469")
    assert (http.ready_within, http.rate_limit, http.rate_burst) == (300.0, 20.0, 100)


@pytest.mark.parametrize(("text", "expected"), [
    ("127.0.0.1:9469", ("127.0.0.1", 9469)), ("[::1]:9000", ("::1", 9000)),
    ("localhost:0", ("localhost", 0)), ("0.0.0.0:9469", ("0.0.0.0", 9469)),
])
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["9469", "127.0.0.1", "::1:9469", "example.com:9469",
                                  "127.0.0.1:70000", "127.0.0.1:http"])
def test_bad_listen_addresses(tmp_path: Path, text: str) -> None:
    assert "http.listen: " in _problems(tmp_path, {"listen": text})


def test_another_address_needs_a_token(tmp_path: Path) -> None:
    text = _problems(tmp_path, {"listen": "0.0.0.0:9469"})
    assert "http.listen: 0.0.0.0 is not a loopback address" in text
    assert "http.token_file" in text
    token = write_token(tmp_path)
    http = _config(tmp_path, {"listen": "0.0.0.0:9469", "token_file": str(token)}).http
    assert http.token == TOKEN and not http.loopback
    assert TOKEN not in repr(http)


def test_token_from_systemd_credentials(tmp_path: Path) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    write_token(creds)
    http = _config(tmp_path, {"listen": "[::]:9469"},
                   env={"CREDENTIALS_DIRECTORY": str(creds)}).http
    assert http.token == TOKEN and http.token_source == str(creds / "http_token")
    assert _config(tmp_path, {}, env={"CREDENTIALS_DIRECTORY": str(tmp_path)}).http.token \
        is None  # no http_token there: none


def test_bad_tokens(tmp_path: Path) -> None:
    short = write_token(tmp_path, "short")
    text = _problems(tmp_path, {"token_file": str(short)})
    assert "at least 16 characters" in text and "short" not in text.split(":", 2)[-1]
    text = _problems(tmp_path, {"token_file": str(tmp_path / "missing")})
    assert "http.token_file: cannot read" in text
    text = _problems(tmp_path, {"listen": "0.0.0.0:1", "token_file": str(short)})
    assert "not a loopback address" not in text  # one problem, the token's


def test_rates_and_durations(tmp_path: Path) -> None:
    http = _config(tmp_path, {"rate_limit": 0, "rate_burst": 5, "ready_within": "2m"}).http
    assert (http.rate_limit, http.rate_burst, http.ready_within) == (0.0, 5, 120.0)
    text = _problems(tmp_path, {"rate_limit": -1, "rate_burst": 0, "ready_within": "soon"})
    for field in ("http.rate_limit:", "http.rate_burst:", "http.ready_within:"):
        assert field in text
    assert _problems(tmp_path, "yes").startswith("http: must be a mapping")


def test_the_sample_block_loads(tmp_path: Path) -> None:
    """config.sample.yaml documents `http:` commented out; uncommented, it loads as is."""
    sample = (Path(__file__).parent.parent / "config.sample.yaml").read_text()
    block = re.search(r"^# http:\n(?:#  .*\n)+", sample, re.MULTILINE)
    assert block, "config.sample.yaml has no commented http: block"
    import yaml

    raw = yaml.safe_load("\n".join(line[2:] for line in block.group(0).splitlines()))
    http = _config(tmp_path, raw["http"]).http
    assert http.listen == "127.0.0.1:9469" and http.token is None
