"""Every reader of a config file (`load_config`, `ledger_from_config`,
`url_mode_from_config`) goes through one pipeline: a file that is not UTF-8, a directory,
a megabyte, YAML that is no mapping, an alias bomb, a key given twice, `${VAR}` — each is
one ConfigError line, and `ossync check-config` exits 78 with it, never a traceback."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ossync.cli import main
from ossync.config import ledger_from_config, load_config, url_mode_from_config
from ossync.core.errors import ConfigError

from .conftest import ACCESS_KEY_ID, SECRET

READERS: list[Callable[[Path], Any]] = [load_config, ledger_from_config, url_mode_from_config]
BOMB = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(  # 9**9 values
    f"{c}: &{c} [{', '.join([f'*{p}'] * 9)}]\n"
    for p, c in zip("abcdefgh", "bcdefghi", strict=True))
GOOD = """\
oss:
  endpoint: https://oss-cn-hangzhou.aliyuncs.com
  bucket: my-bucket
ledger: ledger.db
"""


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OSS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("OSS_ACCESS_KEY_SECRET", SECRET)


def _problem(path: Path, reader: Callable[[Path], Any]) -> str:
    with pytest.raises(ConfigError) as info:
        reader(path)
    [problem] = info.value.problems
    assert info.value.source == str(path)
    return problem


@pytest.mark.parametrize(("content", "expected"), [
    ("oss:\n  bucket: caf\xe9\n".encode("latin-1"),
     "not UTF-8: byte 0xe9 on line 2, column 14; save the file as UTF-8"),
    (GOOD.encode("utf-16"), "the file is UTF-16; save it as UTF-8"),
    (b"#" * (1024 * 1024 + 1), "the file is more than 1 MiB; a config is a few KiB"),
    (BOMB.encode(), "the document expands to more than 100000 values through its aliases"),
    (b"a: &a [*a]\n", "not valid YAML: a value contains itself"),
    (b"workers: 2\nprefix: x/\nworkers: 3\n",
     "not valid YAML: line 3, column 1: workers is given twice (first on line 1)"),
    (("workers: " + "9" * 5000 + "\n").encode(),
     "not valid YAML: line 1, column 10: a number of 5000 digits is too long"),
    (("workers: 0x" + "f" * 5000 + "\n").encode(),
     "not valid YAML: line 1, column 10: a number of 5002 digits is too long"),
    (b"ledger: 2026-02-30\n", "not valid YAML: line 1, column 9: 2026-02-30 is not a date"),
    (b"[" * 5000, "not valid YAML"),
    (b"a: b\x00\n", "not valid YAML: unacceptable character #x0000"),
    (b"- oss\n- ledger\n", "top level: must be a mapping of keys (oss:, ledger:, watch:), "
                          "not a list"),
    (b"just words\n", "top level: must be a mapping of keys (oss:, ledger:, watch:), "
                      "not 'just words'"),
    (b"oss: [unclosed\n", "not valid YAML: line 2, column 1:"),
], ids=["latin-1", "utf-16", "huge", "alias-bomb", "self-alias", "twice", "long-number",
        "long-hex", "bad-date", "deep", "nul", "list", "scalar", "broken"])
@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_a_bad_file_is_one_line_for_every_reader(tmp_path: Path, content: bytes,
                                                 expected: str,
                                                 reader: Callable[[Path], Any]) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    assert _problem(path, reader).startswith(expected)


@pytest.mark.parametrize("reader", READERS, ids=lambda r: r.__name__)
def test_a_directory_or_a_missing_file(tmp_path: Path, reader: Callable[[Path], Any]) -> None:
    assert _problem(tmp_path, reader) == (f"{tmp_path} is a directory; give the config file "
                                          f"in it (e.g. {tmp_path / 'config.yaml'})")
    assert _problem(tmp_path / "absent.yaml", reader).startswith(
        "cannot read the file: No such file or directory")


def test_variables_in_every_reader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(GOOD.replace("ledger: ledger.db", "ledger: ${LEDGER}\nhost: ${HOST}")
                    .replace("bucket: my-bucket", "bucket: my-bucket\n  url_mode: ${MODE}"))
    assert _problem(path, url_mode_from_config) == (
        "oss.url_mode: environment variable MODE is not set")
    with pytest.raises(ConfigError) as info:
        ledger_from_config(path)
    assert info.value.problems == ["ledger: environment variable LEDGER is not set",
                                   "host: environment variable HOST is not set"]
    monkeypatch.setenv("MODE", "public")
    monkeypatch.setenv("LEDGER", str(tmp_path / "from-env.db"))
    monkeypatch.setenv("HOST", "scanner-9")
    assert url_mode_from_config(path) == "public"
    settings = ledger_from_config(path)
    assert (settings.location, settings.host) == (tmp_path / "from-env.db", "scanner-9")
    config = load_config(path)
    assert (config.ledger, config.host, config.oss and config.oss.url_mode) == (
        tmp_path / "from-env.db", "scanner-9", "public")
    monkeypatch.setenv("MODE", "sometimes")
    assert _problem(path, url_mode_from_config) == (
        "oss.url_mode: must be one of public, signed, not 'sometimes'")


def test_light_readers_take_an_empty_file_and_no_oss_section(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("# nothing yet\n")
    assert ledger_from_config(path).location.name == "ledger.db"  # type: ignore[union-attr]
    assert url_mode_from_config(path) is None
    assert _problem(path, load_config).startswith("top level: must be a mapping")
    path.write_text("oss: [1]\n")
    assert _problem(path, url_mode_from_config) == (
        "oss: must be a mapping with endpoint, region and bucket, not a list")


def test_check_config_prints_the_line_and_exits_78(tmp_path: Path) -> None:
    cases = {"latin1.yaml": "watch:\n  - path: /srv/caf\xe9\n".encode("latin-1"),
             "bomb.yaml": BOMB.encode(),
             "typo.yaml": (GOOD + "strip_metdata: location\n").encode()}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        err = io.StringIO()
        code = main(["check-config", "-c", str(tmp_path / name)], stdout=io.StringIO(),
                    stderr=err)
        assert code == 78, err.getvalue()
        assert "Traceback" not in err.getvalue()
    err = io.StringIO()
    main(["check-config", "-c", str(tmp_path / "typo.yaml")], stdout=io.StringIO(), stderr=err)
    assert "strip_metdata: unknown key; did you mean strip_metadata (in each watch: " \
           "folder)?" in err.getvalue()
