"""Properties of every command over generated argument lists: valid flags with arbitrary
values, arbitrary text (controls, escapes, bytes that are not UTF-8, NUL), huge numbers.
Whatever the arguments, the exit status is a documented class (never 70, a bug), no
traceback and no secret is printed, nothing written is a lone surrogate, and output
that succeeded is valid for its format (JSON parses, CSV parses, a table has no
terminal controls).

Commands that would run for good (`run`, `demo`, `local-oss`) are driven so that they
cannot: no config they could run is reachable, and the demo's and the endpoint's folder
is always a file, given last."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ossync.cli import main
from ossync.cli.main import build_parser
from ossync.core.textforms import printable

from .conftest import ACCESS_KEY_ID, SECRET
from .daemon_helpers import jpeg_bytes
from .test_cli_errors import NAMES, World, build_world

DOCUMENTED = {0, 1, 2, 65, 66, 78}
TERMINAL_CONTROLS = {"\x1b", "\r", "\x00", "\u202e", "\u2028", "\x07"}

# --- values --------------------------------------------------------------------------

BYTES = st.text(st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF), min_size=1,
                max_size=3)  # what os.fsdecode makes of bytes that are not UTF-8
CONTROLS = st.sampled_from(["\n", "\r", "\t", "\x00", "\x1b[2J", "\x1b]0;owned\x07", "\u202e",
                            "\u2028", "\x7f", "\x85", "\\", "\\xff", "=", "-", "@"])
HUGE = st.one_of(st.integers(min_value=-(10**40), max_value=10**40).map(str),
                 st.sampled_from(["9" * 5000, "-" + "9" * 500, "0", "-1", "65535", "65536",
                                  "1e999", "nan", "inf", "0x10", "+7", " 3 ", "٣"]))
TEXT = st.lists(st.one_of(st.text(max_size=12), BYTES, CONTROLS, HUGE), min_size=1,
                max_size=4).map("".join)
TIMES = st.one_of(TEXT, HUGE.map(lambda n: n + "d"), st.sampled_from([
    "2h", "7d", "2026-01-01", "0001-01-01", "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00", "99999-01-01", "2026-13-45", "1.5w", "0s"]))
LOG = st.lists(st.one_of(
    st.tuples(st.just("--log-level"), st.one_of(st.sampled_from(["debug", "info", "error"]),
                                                TEXT)),
    st.tuples(st.just("--log-format"), st.one_of(st.sampled_from(["human", "json"]), TEXT)),
), max_size=1).map(lambda pairs: [x for pair in pairs for x in pair])


class Pools:
    """The world's real things, offered among the arbitrary values."""

    def __init__(self, world: World, photo: Path) -> None:
        self.world = world
        drop_paths = [world.path(w) for w in NAMES]
        self.paths = st.one_of(TEXT, st.sampled_from(
            drop_paths + [printable(p) for p in drop_paths] + [str(photo), str(world.base)]))
        self.configs = st.one_of(TEXT, st.sampled_from([str(world.cfg), str(world.signed),
                                                        str(world.base)]))
        self.ledgers = st.one_of(TEXT, st.sampled_from([
            str(world.ledger), "postgresql://u@127.0.0.1:1/x", "postgresql://u@h:99999/x",
            f"postgresql://u:{SECRET}@127.0.0.1:1/x", "mysql://x", str(world.base)]))


def _pairs(*options: tuple[str, st.SearchStrategy[str] | None]) -> st.SearchStrategy[list[str]]:
    """Any number of the given options, in any order; a flag alone when it takes no value."""
    def one(flag: str, value: st.SearchStrategy[str] | None) -> st.SearchStrategy[list[str]]:
        return st.just([flag]) if value is None else value.map(lambda v: [flag, v])

    return st.lists(st.one_of(*[one(f, v) for f, v in options]), max_size=5).map(
        lambda chunks: [x for chunk in chunks for x in chunk])


def _argv(pools: Pools, command: str) -> st.SearchStrategy[list[str]]:
    w, p = pools.world, pools
    formats: list[tuple[str, st.SearchStrategy[str] | None]] = [
        ("--json", None), ("--nl", None), ("--csv", None)]
    urls: list[tuple[str, st.SearchStrategy[str] | None]] = [
        ("--signed", None), ("--public", None), ("--expires", TIMES), ("--process", TEXT)]
    query = [("-c", p.configs), ("--ledger", p.ledgers), ("--host", TEXT)]
    positional = st.lists(p.paths, max_size=3)
    by_command: dict[str, st.SearchStrategy[list[str]]] = {
        "url": st.tuples(_pairs(*query, *formats, *urls), positional).map(
            lambda t: t[0] + t[1]),
        "ls": _pairs(*query, *formats, *urls, ("--since", TIMES), ("--until", TIMES),
                     ("--folder", st.one_of(TEXT, st.sampled_from(["cam", "@cam",
                                                                   str(w.drop)]))),
                     ("--state", st.one_of(st.sampled_from(["all", "failed"]), TEXT)),
                     ("--limit", HUGE)),
        "show": st.tuples(_pairs(*query, *formats, *urls), st.one_of(
            p.paths, st.sampled_from(["cam/0.jpg", "0" * 64, '=HYPERLINK("http://evil.example")'
                                      ]))).map(lambda t: [*t[0], t[1]]),
        "status": _pairs(*query, *formats),
        "events": _pairs(*query, ("--json", None), ("--nl", None), ("--since", st.one_of(
            HUGE, TEXT))),  # never --follow: it would wait for events for good
        "retry": st.tuples(_pairs(*query, ("--all", None)), positional).map(
            lambda t: t[0] + t[1]),
        "export": _pairs(*query, ("--since", TIMES), ("--format", st.one_of(
            st.sampled_from(["csv", "json", "nl"]), TEXT))),
        "check-config": _pairs(("-c", p.configs)),
        "put": st.tuples(_pairs(("-c", p.configs), ("--json", None)), positional).map(
            lambda t: t[0] + t[1]),
        "run": _pairs(("-c", TEXT)),
        "ledger copy": st.tuples(p.ledgers, st.one_of(TEXT, st.sampled_from(
            ["copy.db", str(w.ledger)]))).map(list),
        "demo": _pairs(("--port", HUGE), ("--dir", TEXT), ("--once", None)).map(
            lambda a: [*a, "--once", "--dir", str(w.base / "a-file")]),
        "local-oss": _pairs(("--port", HUGE), ("--bucket", st.one_of(TEXT, st.just("b1b"))),
                            ("--host", TEXT), ("--region", TEXT), ("--public-read", None),
                            ("--root", TEXT)).map(
            lambda a: [*a, "--bucket", "b1b", "--root", str(w.base / "a-file" / "r")]),
    }
    junk = st.lists(st.one_of(TEXT, st.sampled_from(["--", "-", "--help", "-x"])), max_size=1)
    return st.tuples(LOG, by_command[command], junk).map(
        lambda t: [*command.split(), *t[0], *t[1], *t[2]])


# --- the world, once per module -------------------------------------------------------


@pytest.fixture(scope="module")
def pools(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pools]:
    base = tmp_path_factory.mktemp("argv")
    patch = pytest.MonkeyPatch()
    patch.setenv("OSS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    patch.setenv("OSS_ACCESS_KEY_SECRET", SECRET)
    for name in ("OSS_SESSION_TOKEN", "CREDENTIALS_DIRECTORY", "OSSYNC_LEDGER"):
        patch.delenv(name, raising=False)
    patch.setenv("OSSYNC_CONFIG", str(base / "no-such-config.yaml"))
    world = build_world(base)
    (base / "a-file").write_bytes(b"a file, where the demo wants a folder")
    photo = base / "photo.jpg"
    photo.write_bytes(jpeg_bytes(500, seed=1))
    cwd = base / "cwd"  # relative paths the generator invents land in an empty folder
    cwd.mkdir()
    patch.chdir(cwd)
    try:
        yield Pools(world, photo)
    finally:
        patch.undo()


COMMANDS = ["url", "ls", "show", "status", "events", "retry", "export", "check-config", "put",
            "run", "ledger copy", "demo", "local-oss"]


def _check_format(argv: list[str], out: str) -> None:
    """A command that succeeded wrote valid output for its format."""
    if {"-h", "--help"} & set(argv):
        return
    args = build_parser().parse_args(argv)
    fmt = "json" if getattr(args, "json", False) is True else getattr(args, "format", "table")
    if args.command == "status" and fmt == "csv":
        fmt = "nl"
    if fmt == "json":
        json.loads(out)
    elif fmt == "nl":
        for line in out.splitlines():
            json.loads(line)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert rows and all(len(r) == len(rows[0]) for r in rows), out
    else:  # `ledger copy` redraws its progress line with \r, on purpose
        allowed = {"\r"} if args.command == "ledger" else set()
        assert not set(out) & (TERMINAL_CONTROLS - allowed), out


@pytest.mark.parametrize("command", COMMANDS)
@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_arguments_get_a_documented_answer(pools: Pools, command: str,
                                               data: st.DataObject) -> None:
    argv = data.draw(_argv(pools, command), label="argv")
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, stdout=out, stderr=err)
    stdout, stderr = out.getvalue(), err.getvalue()
    assert code in DOCUMENTED, (code, stderr)
    assert "internal error" not in stderr, stderr
    assert "Traceback" not in stderr or "debug" in argv, stderr  # only when asked for
    assert SECRET not in stdout + stderr
    stdout.encode("utf-8")
    stderr.encode("utf-8")  # no lone surrogate reaches a stream
    assert not set(stderr) & TERMINAL_CONTROLS, stderr
    if code == 0:
        _check_format(argv, stdout)
