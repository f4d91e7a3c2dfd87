"""Weak secrets are refused before they protect anything: a token file others can read,
or a token that is easy to guess, stops `ossync check-config` (78, the file and the fix
named) and the daemon at start (one line, 78); a config file others can read that holds
a store's secret written out is a warning. The token never appears in what is said."""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ossync.cli.main import main
from ossync.config.http import MIN_BITS, token_bits
from tests.conftest import ACCESS_KEY_ID, SECRET
from tests.http_helpers import TOKEN, write_token

pytestmark = pytest.mark.timeout(120)

WEAK = [
    "a" * 40,  # one letter
    "0123456789abcdef0123456789abcdef",  # a run, twice
    "tok-0123456789abcdef0123456789abcdef",
    "abababababababababababababababx",  # two letters and one more
    "passwordpasswordpasswordpassword",
    "Summer2026Summer2026Summer2026!!",
    "1234567890123456",
]


def _check(config: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["check-config", "-c", str(config)], out, err)
    return status, out.getvalue() + err.getvalue()


def _config(make_config: Callable[..., Path], token: Path, **http: Any) -> Path:
    return make_config(http={"listen": "127.0.0.1:0", "token_file": str(token), **http})


@pytest.mark.parametrize("weak", WEAK)
def test_a_guessable_token_is_refused(make_config: Callable[..., Path], tmp_path: Path,
                                      weak: str) -> None:
    config = _config(make_config, write_token(tmp_path, weak))
    status, said = _check(config)
    assert status == 78, said
    assert "http.token_file" in said and "too easy to guess" in said
    assert "openssl rand -hex 32" in said and str(tmp_path / "http_token") in said
    assert weak not in said


def test_random_tokens_pass_the_estimate() -> None:
    """What the docs tell people to run always passes; a 16-character one never does."""
    for _ in range(300):
        assert token_bits(secrets.token_hex(32)) >= MIN_BITS
        assert token_bits(secrets.token_hex(16)) >= MIN_BITS
        assert token_bits(secrets.token_urlsafe(16)) >= MIN_BITS
    assert token_bits(TOKEN) >= MIN_BITS
    assert all(token_bits(w) < MIN_BITS for w in WEAK)


@pytest.mark.parametrize(("mode", "who"), [(0o644, "anyone on this host"),
                                           (0o640, "its group"), (0o604, "anyone")])
def test_a_token_file_others_can_read_is_refused(make_config: Callable[..., Path],
                                                 tmp_path: Path, mode: int, who: str) -> None:
    token = write_token(tmp_path)
    token.chmod(mode)
    status, said = _check(_config(make_config, token))
    assert status == 78, said
    assert f"{token} can be read by {who}" in said and f"chmod 600 {token}" in said
    assert TOKEN not in said
    token.chmod(0o600)
    status, said = _check(_config(make_config, token))
    assert status == 0, said


def test_the_daemon_refuses_a_weak_token_at_start(make_config: Callable[..., Path],
                                                  tmp_path: Path,
                                                  oss_env: dict[str, str]) -> None:
    config = _config(make_config, write_token(tmp_path, WEAK[1]))
    done = subprocess.run([sys.executable, "-m", "ossync", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, **oss_env})
    assert done.returncode == 78, done.stdout + done.stderr
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and "http.token_file" in lines[0] and "too easy to guess" in lines[0]
    assert WEAK[1] not in done.stdout + done.stderr


def _inline(tmp_path: Path, write_config: Callable[..., Path], secret: str,
            mode: int) -> Path:
    (tmp_path / "drop").mkdir(exist_ok=True)
    config = write_config("http://127.0.0.1:9", oss={"access_key_id": ACCESS_KEY_ID,
                                                     "access_key_secret": secret},
                          watch=[{"path": str(tmp_path / "drop"), "label": "drop"}])
    config.chmod(mode)
    return config


def test_a_readable_config_with_a_secret_written_out_is_a_warning(
        tmp_path: Path, write_config: Callable[..., Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THE_SECRET", SECRET)
    config = _inline(tmp_path, write_config, SECRET, 0o644)
    status, said = _check(config)
    assert status == 0, said
    warning = [line for line in said.splitlines() if "warning:" in line and "secret" in line]
    assert len(warning) == 1, said
    assert "oss.access_key_secret" in warning[0] and "chmod 600" in warning[0]
    assert "${" in warning[0] and SECRET not in said
    for quiet in (_inline(tmp_path, write_config, SECRET, 0o600),
                  _inline(tmp_path, write_config, "${THE_SECRET}", 0o644)):
        status, said = _check(quiet)
        assert status == 0 and "secret" not in said.lower(), said

