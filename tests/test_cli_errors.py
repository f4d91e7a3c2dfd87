"""The command line's error boundary: every command, given what a careless or hostile
user could type, answers with one line and a documented exit status — never a
traceback, never a secret — and what it prints cannot forge a line, move a terminal's
cursor, run as a spreadsheet formula or break JSON/CSV.

The named bad inputs, one by one, are a table of docs/bad-inputs.md, which
tests/test_bad_inputs.py runs (with `World` and `build_world` from here); this module
keeps what is no single input: the last resort, printable tables, JSON/CSV forms,
paths as given and as printed, raw argv bytes under a C locale, read-only places.

Real parts only: config files, SQLite ledgers under tmp_path, `main()` in-process, and
`python -m ossync` as a subprocess where the locale and raw argv bytes matter."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ossync.cli import main
from ossync.core.textforms import os_path, printable
from ossync.ledger import Ledger, Settled, Sighting
from ossync.targets import UploadResult

from .conftest import BUCKET, REGION, SECRET
from .queue_helpers import claim

ROOT = Path(__file__).resolve().parent.parent
DEAD_ENDPOINT = "http://127.0.0.1:9"  # nothing listens: only commands that fail reach it
# The drop folder's files as the ledger records them, newest last (the failed one).
NAMES = {
    "plain": "a.jpg",
    "newline": "new\nline.jpg",
    "escape": "esc\x1b[31mred\x1b[0m.jpg",
    "bytes": "cam\udcff\udcfe.jpg",  # not UTF-8: b"cam\xff\xfe.jpg" on disk
    "backslash": "back\\slash.jpg",
    "bidi": "rtl\u202egpj.exe",
    "formula": "formula.jpg",  # its folder, key and URL start like spreadsheet formulas
}
FAILED = "failed.jpg"
FAILED_ERROR = "-cannot read\x1b[2J: =1+1"
ALLOWED_STATUSES = {0, 1, 2, 65, 66, 78}  # 70 is a bug; 130 needs a Ctrl-C


@dataclass
class World:
    """A config, a real SQLite ledger holding hostile names, and hostile files."""

    base: Path
    drop: Path = field(init=False)
    cfg: Path = field(init=False)
    signed: Path = field(init=False)
    ledger: Path = field(init=False)

    def __post_init__(self) -> None:
        self.drop = self.base / "drop"
        self.ledger = self.base / "ledger.db"
        self.cfg = self.config("config.yaml", url_mode="public")
        self.signed = self.config("signed.yaml", url_mode="signed")

    def config(self, name: str, ledger: str | None = None, **oss: Any) -> Path:
        doc = {"oss": {"endpoint": DEAD_ENDPOINT, "region": REGION, "bucket": BUCKET, **oss},
               "ledger": ledger or str(self.ledger),
               "watch": [{"path": str(self.drop), "label": "cam"}]}
        path = self.base / name
        path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
        return path

    def path(self, which: str) -> str:
        return str(self.drop / NAMES.get(which, which))

    def run(self, *argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), stdout=out, stderr=err)
        return code, out.getvalue(), err.getvalue()

    def q(self, command: str, *argv: str) -> tuple[int, str, str]:
        """A query command against this world's config (and so its ledger)."""
        return self.run(command, "-c", str(self.cfg), *argv)


def build_world(base: Path) -> World:
    world = World(base)
    world.drop.mkdir()
    with Ledger.open(world.ledger, host="studio") as ledger:
        queue = ledger
        for i, which in enumerate(NAMES):
            folder, key = ("@cam", '=HYPERLINK("http://evil.example")') if (
                which == "formula") else ("cam", f"cam/{i}.jpg")
            url = "=cmd|' /C calc'!A0" if which == "formula" else f"http://cdn.example/{key}"
            result = UploadResult(key=key, url=url, size=100 + i, etag=f'"{i}"', crc64=i)
            queue.record_direct(world.path(which), folder, mtime_ns=i, sha256=f"{i:064x}",
                                content_type="image/jpeg", bucket=BUCKET, result=result)
        queue.note([Sighting(world.path(FAILED), "cam", 5, 5, 0.0)])
        row = claim(queue)
        assert row is not None
        queue.settle(row, Settled("failed", FAILED_ERROR, attempts=3))
    return world


@pytest.fixture
def world(tmp_path: Path, oss_env: dict[str, str]) -> World:
    return build_world(tmp_path)


def assert_clean(code: int, out: str, err: str, *, one_line: bool = True,
                 machine: bool = False) -> None:
    """What every answer keeps to, good or bad: a documented status, no traceback, no
    secret, valid UTF-8, and (except in JSON or CSV, which carry names as they are)
    nothing that moves a terminal's cursor or reverses its text."""
    assert code in ALLOWED_STATUSES, (code, err)
    assert "Traceback" not in err and "internal error" not in err, err
    assert SECRET not in out + err
    for text in (out, err):
        text.encode("utf-8")  # no lone surrogate
    for text in (err,) if machine else (out, err):
        assert not set(text) & {"\x1b", "\r", "\u202e", "\x00"}, text
    if code != 0 and one_line:
        assert len(err.strip().splitlines()) == 1, err


# --- named bad inputs: docs/bad-inputs.md (run by tests/test_bad_inputs.py) ------------


def _cfg_with_ledger(w: World, ledger: str) -> str:
    return str(w.config("ledger-check.yaml", ledger=ledger, url_mode="public"))


def test_check_config_creates_nothing(world: World) -> None:
    target = world.base / "not" / "yet" / "ledger.db"
    code, out, err = world.run("check-config", "-c", _cfg_with_ledger(world, str(target)))
    assert code == 0, err
    assert "the daemon creates it" in out
    assert not (world.base / "not").exists()


def test_a_last_resort_error_is_one_line_and_70(world: World,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug (here a fault injected into the status command) still ends in one line."""
    from ossync.cli import query

    def broken(*args: object) -> int:
        raise RuntimeError("the status\nwent wrong \x1b[2J " + SECRET)

    monkeypatch.setattr(query, "cmd_status", broken)
    code, _, err = world.q("status")
    assert code == 70
    assert err.startswith("ossync: internal error: RuntimeError: the status went wrong")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert SECRET not in err and "\x1b" not in err
    code, _, err = world.q("status", "--log-level", "debug")
    assert code == 70 and "Traceback" in err and SECRET not in err


def test_an_os_error_nobody_expected_is_one_line(world: World,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from ossync.cli import query

    def disk_full(*args: object) -> int:
        raise OSError(28, "No space left on device", "/var/lib/ossync/ledger.db")

    monkeypatch.setattr(query, "cmd_ls", disk_full)
    code, _, err = world.q("ls")
    assert code == 1
    assert err == "ossync: No space left on device (/var/lib/ossync/ledger.db)\n"


def test_interrupt_and_a_reader_gone(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from ossync.cli import query

    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(query, "cmd_export", interrupted)
    assert world.q("export", "--format", "nl")[0] == 130

    class GoneReader(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(32, "Broken pipe")

    assert main(["ls", "-c", str(world.cfg)], stdout=GoneReader(), stderr=io.StringIO()) == 0


def test_every_command_takes_the_logging_options() -> None:
    from tests.test_first_run import _subcommands

    for command in _subcommands():
        if command == ["ledger"]:
            continue
        out, err = io.StringIO(), io.StringIO()
        code = main([*command, "--log-level", "debug", "--log-format", "json", "--help"],
                    stdout=out, stderr=err)
        assert code == 0, (command, err.getvalue())
        assert "--log-level" in out.getvalue() and "--log-format" in out.getvalue()


# --- what the terminal and programs get -----------------------------------------------


def test_tables_show_printable_names(world: World) -> None:
    code, out, err = world.q("ls", "--state", "all")
    assert_clean(code, out, err)
    lines = out.splitlines()
    assert len(lines) == 1 + len(NAMES) + 1  # one line per row, whatever the names hold
    for which in NAMES:
        assert printable(world.path(which)) in out
    assert "new\\nline.jpg" in out and "esc\\x1b[31mred" in out and "rtl\\u202egpj" in out
    assert "cam\\xff\\xfe.jpg" in out and "back\\\\slash.jpg" in out


def test_show_and_status_show_printable_text(world: World) -> None:
    code, out, err = world.q("show", world.path(FAILED))
    assert_clean(code, out, err)
    assert "last error: -cannot read" in out and "[2J" in out
    code, out, err = world.q("status")
    assert_clean(code, out, err)
    assert "1 failed: -cannot read" in out
    code, out, err = world.q("show", world.path("escape"))
    assert_clean(code, out, err)
    assert "esc\\x1b[31mred\\x1b[0m.jpg  [uploaded" in out


def test_json_carries_the_ledger_form(world: World) -> None:
    for fmt in ("--json", "--nl"):
        code, out, err = world.q("ls", "--state", "all", fmt)
        assert_clean(code, out, err, machine=True)
        rows = json.loads(out) if fmt == "--json" else [json.loads(x) for x in out.splitlines()]
        paths = {os_path(r["path"]) for r in rows}
        assert paths == {world.path(w) for w in [*NAMES, FAILED]}
        out.encode("utf-8")  # valid UTF-8: no lone surrogate
    code, out, err = world.run("export", "--format", "json", "--ledger", str(world.ledger))
    assert_clean(code, out, err, machine=True)
    assert {os_path(r["path"]) for r in json.loads(out)} == {world.path(w)
                                                             for w in [*NAMES, FAILED]}


def test_csv_is_standard_and_formulas_are_neutralised(world: World) -> None:
    code, out, err = world.run("export", "--format", "csv", "--ledger", str(world.ledger))
    assert_clean(code, out, err, machine=True)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == len(NAMES) + 1
    formula = next(r for r in rows if r["path"].endswith("formula.jpg"))
    assert formula["folder"] == "'@cam"
    assert formula["key"] == "'=HYPERLINK(\"http://evil.example\")"
    assert formula["url"] == "'=cmd|' /C calc'!A0"
    failed = next(r for r in rows if r["path"].endswith(FAILED))
    assert failed["last_error"].startswith("'-cannot read")
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert {os_path(r["path"]) for r in rows} == {world.path(w) for w in [*NAMES, FAILED]}


def test_signed_csv_of_every_state_when_the_newest_row_has_no_url(world: World) -> None:
    """The known crash: a signed listing whose first row (failed, no URL) set the CSV
    header without `url_expires_at`."""
    code, out, err = world.run("ls", "-c", str(world.signed), "--csv", "--state", "all")
    assert_clean(code, out, err, machine=True)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["state"] == "failed" and rows[0]["url"] == ""
    assert rows[0]["url_expires_at"] == "" and rows[1]["url_expires_at"]
    assert "x-oss-signature=" in rows[1]["url"]


def test_paths_as_given_and_as_printed(world: World) -> None:
    """A non-UTF-8 name as the shell passes it (surrogates), and as a log line printed it."""
    raw = world.path("bytes")
    for spelling in (raw, printable(raw)):
        code, out, err = world.q("url", spelling)
        assert code == 0, err
        assert out.strip().startswith("http://cdn.example/cam/")
        code, out, err = world.q("show", spelling)
        assert code == 0, err
        assert "cam\\xff\\xfe.jpg" in out
    code, out, err = world.q("url", "--json", raw)
    assert code == 0 and os_path(json.loads(out)[0]["path"]) == raw
    code, out, err = world.q("retry", printable(world.path(FAILED)))
    assert code == 0 and "re-queued 1" in out


def test_put_a_file_whose_name_is_not_utf8(world: World, write_config: Callable[..., Path],
                                           local_oss: Any) -> None:
    cfg = write_config(local_oss.endpoint, ledger=str(world.base / "put.db"),
                       name="put.yaml")
    photo = world.base / "photo\udcff.jpg"
    from .daemon_helpers import jpeg_bytes

    photo.write_bytes(jpeg_bytes(2000))
    for fmt in ((), ("--json",)):
        code, out, err = world.run("put", "-c", str(cfg), *fmt, str(photo))
        assert_clean(code, out, err, machine=bool(fmt))
        assert code == 0, err
    rows = json.loads(out)
    assert os_path(rows[0]["path"]) == str(photo) and rows[0]["ok"]
    with Ledger.open(world.base / "put.db", readonly=True) as ledger:
        assert ledger.url_for(str(photo)) == rows[0]["url"]


# --- real processes: raw argv bytes and a C locale ------------------------------------


def _ossync(*argv: str | bytes, env: dict[str, str] | None = None
            ) -> subprocess.CompletedProcess[bytes]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    return subprocess.run([sys.executable, "-m", "ossync", *argv], capture_output=True,
                          timeout=60, cwd=ROOT, env={**base, **(env or {})})


@pytest.mark.parametrize("locale", [{"LANG": "C"}, {"LC_ALL": "C"},
                                    {"LC_ALL": "C", "PYTHONIOENCODING": "ascii"}],
                         ids=["LANG=C", "LC_ALL=C", "ascii"])
def test_raw_bytes_in_argv_under_a_c_locale(world: World, locale: dict[str, str]) -> None:
    ledger = str(world.ledger).encode()
    done = _ossync("url", b"/x/cam\xff.jpg", "--ledger", ledger, env=locale)
    assert done.returncode == 1, done.stderr
    assert done.stderr == b"ossync: not uploaded: /x/cam\\xff.jpg\n"
    done = _ossync("url", os.fsencode(world.path("bytes")), "--ledger", ledger, env=locale)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(b"http://cdn.example/cam/")
    done = _ossync("ls", "--json", "--state", "all", "--ledger", ledger, env=locale)
    assert done.returncode == 0 and b"Traceback" not in done.stderr, done.stderr
    rows = json.loads(done.stdout.decode("utf-8"))
    assert {os_path(r["path"]) for r in rows} == {world.path(w) for w in [*NAMES, FAILED]}
    done = _ossync("ls", "--state", "all", "--ledger", ledger, env=locale)
    assert done.returncode == 0, done.stderr
    done.stdout.decode("utf-8")
    assert b"\x1b" not in done.stdout and b"\xff" not in done.stdout
    done = _ossync("show", b"/x/\xff\n\x1b[2J", "--ledger", ledger, env=locale)
    assert done.returncode == 1 and done.stderr.count(b"\n") == 1, done.stderr
    assert b"\x1b" not in done.stderr and b"Traceback" not in done.stderr


def _as_ordinary_user(argv: list[str]) -> tuple[int, str, str]:
    """`main(argv)` in a forked child that gave up root (root may write anywhere, so a
    read-only place is only read-only to someone else); in-process when not root."""
    if os.geteuid() != 0:
        out, err = io.StringIO(), io.StringIO()
        return main(argv, stdout=out, stderr=err), out.getvalue(), err.getvalue()
    main(["check-config", "--help"], stdout=io.StringIO())  # imports done while still root
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, run, report, and leave without cleanup
        status = 70
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            out, err = io.StringIO(), io.StringIO()
            code = main(argv, stdout=out, stderr=err)
            os.write(write, json.dumps([code, out.getvalue(), err.getvalue()]).encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0 and answer, "the unprivileged run failed"
    code, out, err = json.loads(answer)
    return int(code), str(out), str(err)


def test_read_only_ledger_places(tmp_path: Path, oss_env: dict[str, str]) -> None:
    """check-config names a ledger it could not create or write, and creates nothing."""
    import shutil
    import stat
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="ossync-ro-"))  # /tmp: open to an ordinary user
    locked, open_ = base / "locked", base / "open"
    try:
        base.chmod(0o755)
        locked.mkdir()
        open_.mkdir()
        ro_file = open_ / "ro.db"
        with Ledger.open(ro_file):
            pass
        in_locked = locked / "ledger.db"
        with Ledger.open(in_locked):
            pass
        for path in (in_locked, *locked.iterdir()):
            path.chmod(0o666)
        ro_file.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        locked.chmod(0o555)
        open_.chmod(0o777)
        cases = {str(locked / "sub" / "ledger.db"): "cannot create",
                 str(ro_file): "is read-only for this user",
                 str(in_locked): "the folder " + str(locked) + " is read-only"}
        for ledger, says in cases.items():
            cfg = base / f"c{len(says)}.yaml"
            cfg.write_text(yaml.safe_dump({
                "oss": {"endpoint": DEAD_ENDPOINT, "region": REGION, "bucket": BUCKET},
                "ledger": ledger}))
            cfg.chmod(0o644)
            code, out, err = _as_ordinary_user(["check-config", "-c", str(cfg)])
            assert code == 78, (ledger, out, err)
            assert says in err and len(err.strip().splitlines()) == 1, err
            assert SECRET not in out + err
        assert not (locked / "sub").exists()
    finally:
        for folder in (locked, open_):
            if folder.exists():
                folder.chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)
