"""docs/commands.md is what the parser generates: current, naming every command and
option, and giving for each command the exit statuses docs/bad-inputs.md sees it give."""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

from ossync.cli.errors import MEANINGS, ExitStatus
from ossync.cli.main import build_parser
from ossync.cli.reference import EVERY, GIVES, REGENERATE, leaves, markdown

from .test_bad_inputs import read_page

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "commands.md"


def test_the_page_is_current() -> None:
    assert PAGE.read_text(encoding="utf-8") == markdown(), (
        f"docs/commands.md is out of date; regenerate it: {REGENERATE}")


def test_the_generator_runs_as_documented() -> None:
    done = subprocess.run([sys.executable, "-m", "ossync.cli.reference"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout == markdown(), done.stderr
    done = subprocess.run([sys.executable, "-m", "ossync.cli.reference", "nonsense"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_every_command_and_option_is_on_the_page() -> None:
    page = markdown()
    commands = list(leaves(build_parser()))
    assert {name for name, _, _ in commands} >= {"run", "put", "url", "ledger copy", "demo"}
    for name, _, sub in commands:
        assert f"## ossync {name}\n" in page, name
        section = page.split(f"## ossync {name}\n", 1)[1].split("\n## ", 1)[0]
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help, f"ossync {name}: {action.dest} has no help text"
            shown = (f"`{action.option_strings[0]}`" if action.option_strings
                     else str(action.metavar or action.dest).replace("|", "\\|"))
            assert shown in (section if action.dest not in ("log_level", "log_format")
                             else page), f"ossync {name}: {shown}"


def test_every_status_has_a_meaning_and_a_command() -> None:
    assert set(MEANINGS) == set(ExitStatus)
    given = {status for _, status, _ in GIVES} | set(EVERY)
    assert given == set(ExitStatus)
    names = {name for name, _, _ in leaves(build_parser())}
    assert {n for commands, _, _ in GIVES for n in commands} == names


def _command_of(argv: list[str]) -> str:
    words = [w for w in argv[1:] if not w.startswith("-")]
    if words[:1] == ["ledger"]:
        return " ".join(words[:2])
    return words[0] if words else ""


def test_the_statuses_bad_inputs_sees_are_in_the_table() -> None:
    """Every (command, status) a row of docs/bad-inputs.md shows is in the table."""
    page = read_page((ROOT / "docs" / "bad-inputs.md").read_text(encoding="utf-8"))
    table = {(n, status.value) for commands, status, _ in GIVES for n in commands}
    table |= {(n, status.value) for n, _, _ in leaves(build_parser()) for status in EVERY}
    names = {name for name, _, _ in leaves(build_parser())}
    seen = set()
    for row in page.of("command"):
        command = _command_of(shlex.split(row.cells["command"].strip("`")))
        if command in names and not row.defect:  # not `ossync`, nor `ossync upload`
            seen.add((command, int(row.cells["exit"])))
    assert seen, "no command rows read from docs/bad-inputs.md"
    assert not sorted(seen - table), "docs/commands.md lacks these (command, status) pairs"
