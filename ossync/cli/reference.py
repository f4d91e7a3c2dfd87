"""`docs/commands.md`, written from the parser and the exit statuses, so the page says
what `ossync COMMAND --help` says and cannot drift from it:

    python -m ossync.cli.reference > docs/commands.md

`tests/test_commands_reference.py` fails when the committed page is not what this prints.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from ossync.cli.args import DEFAULT_CONFIG
from ossync.cli.errors import MEANINGS, ExitStatus
from ossync.cli.main import build_parser

WIDTH = 88  # of the usage lines; fixed, so that the page does not depend on a terminal
REGENERATE = "python -m ossync.cli.reference > docs/commands.md"
HEAD = f"""\
# Command reference

Every command and every option, as `ossync COMMAND --help` gives them, and the exit
statuses. Generated from the parser (`build_parser()` in `ossync/cli/main.py`) by
`{REGENERATE}`; edit the parser, not this page.

- Every command takes `--log-level` and `--log-format` ([below](#options-of-every-command));
  every command that reads a config takes `-c` (default: `$OSSYNC_CONFIG`, else
  `{DEFAULT_CONFIG}`).
- The look-ups (`url`, `ls`, `show`, `status`, `retry`, `export`) find the ledger by
  `--ledger`, else `$OSSYNC_LEDGER`, else the config's `ledger:`.
- Paths are taken as the shell gives them, or as a log line printed them (`new\\nline.jpg`,
  `caf\\xe9.jpg`).
- What each status means for each command, and the messages behind them:
  [troubleshooting.md](troubleshooting.md) and [bad-inputs.md](bad-inputs.md)."""

SHARED = ("log_level", "log_format")  # logging_options(): on every command, shown once
S = ExitStatus
# When each command gives each status, besides those any command may give (EVERY).
EVERY = (S.OK, S.USAGE, S.SOFTWARE, S.INTERRUPTED)
LOOKUPS = ("url", "ls", "show", "status", "retry", "export")
GIVES: tuple[tuple[tuple[str, ...], ExitStatus, str], ...] = (
    (("check-config",), S.CONFIG,
     "anything the daemon would trip on: a key or value, credentials that cannot be "
     "fetched or have expired, a ledger it could not create, write or read, an HTTP token "
     "others can read or guess"),
    (("put",), S.FAILED, "some file failed (each named on stderr); the others went up"),
    (("put",), S.BAD_LEDGER, "the ledger is another program's database, or damaged"),
    (("put",), S.CONFIG, "a bad config"),
    (("url",), S.FAILED, "some path was never uploaded (the others are printed)"),
    (("show",), S.FAILED, "nothing in the ledger matches"),
    (("retry",), S.FAILED, "a path is not a failed file in the ledger"),
    (("ls", "status"), S.FAILED, "--replica names a replica the ledger has no copies for"),
    (LOOKUPS, S.FAILED, "the ledger cannot be used: a folder, or written by a newer ossync"),
    (LOOKUPS, S.BAD_LEDGER, "not an ossync ledger (another program's database), or damaged"),
    (LOOKUPS, S.NO_LEDGER, "no ledger there (has the daemon run yet?)"),
    (LOOKUPS, S.CONFIG, "the config given to find the ledger cannot be read"),
    (("ledger copy",), S.FAILED, "the copy differs, or a ledger cannot be used"),
    (("ledger copy",), S.BAD_LEDGER, "DST is another program's database"),
    (("ledger copy",), S.NO_LEDGER, "SRC does not exist"),
    (("events",), S.FAILED, "the ledger cannot be used"),
    (("events",), S.NO_LEDGER, "no ledger there (has the daemon run yet?)"),
    (("events",), S.CONFIG, "the config given to find the ledger cannot be read"),
    (("ledger rebuild",), S.FAILED, "objects could not be read, or the ledger has rows "
                                    "(without --force) or cannot be used"),
    (("ledger rebuild",), S.CONFIG, "a bad config (the store and folders come from it)"),
    (("verify",), S.FAILED, "an object is missing or differs from the ledger (each named), "
                            "or the ledger cannot be used"),
    (("verify",), S.NO_LEDGER, "no ledger there"),
    (("verify",), S.CONFIG, "a bad config (the store comes from it)"),
    (("run",), S.OK, "stopped by SIGTERM or SIGINT, in-flight uploads finished or queued"),
    (("run",), S.FAILED, "the ledger is locked by another daemon, or cannot be used"),
    (("run",), S.BAD_LEDGER, "the ledger is damaged: move it aside, and a new one is "
                             "rebuilt by scanning"),
    (("run",), S.NO_LEDGER, "the PostgreSQL database does not exist"),
    (("run",), S.SOFTWARE, "a stage crashed 5 times in a row and was given up, and no "
                           "systemd watchdog is there to restart the daemon"),
    (("run",), S.CONFIG, "a bad config, or no watch folder"),
    (("demo",), S.FAILED, "the sample's round trip failed, or the folder or port cannot "
                          "be used"),
    (("local-oss",), S.FAILED, "the port, the address or the folder cannot be used"),
    (("local-oss",), S.CONFIG, "no credentials in the environment"),
)


def leaves(parser: argparse.ArgumentParser, prefix: str = ""
           ) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of every command that runs, in the parser's order;
    a command with verbs of its own (`ledger`) is its verbs."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
        for name, sub in action.choices.items():
            full = f"{prefix} {name}".strip()
            if any(isinstance(a, argparse._SubParsersAction) for a in sub._actions):
                yield from leaves(sub, full)
            else:
                yield full, helps[name], sub


def markdown() -> str:
    commands = list(leaves(build_parser()))
    lines = [HEAD, "", "| command | what it does |", "|---|---|"]
    lines += [f"| [`ossync {name}`](#{_anchor(name)}) | {_cell(text)} |"
              for name, text, _ in commands]
    lines += ["", "## Options of every command", "", "| argument | value | description |",
              "|---|---|---|"]
    first = commands[0][2]
    lines += [_argument(first, a) for a in first._actions if a.dest in SHARED]
    lines.append("")
    for name, text, sub in commands:
        lines += _command(name, text, sub)
    lines += _statuses()
    return "\n".join(lines)


def _anchor(name: str) -> str:
    return "ossync-" + name.replace(" ", "-")


def _command(name: str, text: str, sub: argparse.ArgumentParser) -> list[str]:
    usage = argparse.HelpFormatter(sub.prog, width=WIDTH)
    usage.add_usage(sub.usage, sub._actions, sub._mutually_exclusive_groups, prefix="")
    lines = [f"## ossync {name}", "", _sentence(text), "", "```text",
             usage.format_help().strip(), "```", "",
             "| argument | value | description |", "|---|---|---|"]
    for action in sub._actions:
        if not isinstance(action, argparse._HelpAction) and action.dest not in SHARED:
            lines.append(_argument(sub, action))
    return [*lines, ""]


def _argument(sub: argparse.ArgumentParser, action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(f"`{o}`" for o in action.option_strings)
    else:
        names = _cell(str(action.metavar or action.dest))
    if action.choices:
        value = ", ".join(f"`{c}`" for c in action.choices)
    elif action.nargs == 0:
        value = "-"
    elif not action.option_strings:
        value = {"+": "one or more", "*": "any number"}.get(str(action.nargs), "one")
    else:
        value = _cell(str(action.metavar or action.dest.upper()))
    words = [_sentence(argparse.HelpFormatter(sub.prog)._expand_help(action))
             if action.help else ""]
    if action.required and action.option_strings:
        words.append("Required.")
    for group in sub._mutually_exclusive_groups:
        if action in group._group_actions:
            others = [_flag(a) for a in group._group_actions if a is not action]
            words.append(("Not with " if not group.required else "Give this or ")
                         + ", ".join(others) + ".")
    return f"| {names} | {value} | {_cell(' '.join(w for w in words if w))} |"


def _flag(action: argparse.Action) -> str:
    return f"`{action.option_strings[-1]}`" if action.option_strings else _cell(
        str(action.metavar or action.dest))


def _statuses() -> list[str]:
    lines = ["## Exit statuses", "", "| status | meaning |", "|---|---|"]
    lines += [f"| {status.value} | {_cell(MEANINGS[status])} |" for status in ExitStatus]
    lines += ["", "Which command gives which (besides "
              + ", ".join(f"{s.value} {MEANINGS[s].split(':')[0].split(' (')[0]}"
                          for s in EVERY) + ", which any command may give):", "",
              "| command | status | when |", "|---|---|---|"]
    for names, status, when in GIVES:
        shown = ", ".join(f"`ossync {n}`" if i == 0 else f"`{n}`" for i, n in enumerate(names))
        lines.append(f"| {shown} | {status.value} | {_cell(when)} |")
    return [*lines, ""]


def _sentence(text: str) -> str:
    """argparse's help as it is (lower case, for code words), ended with a full stop."""
    text = " ".join(text.split())
    return text + ("" if not text or text.endswith(".") else ".")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def main(argv: list[str]) -> int:
    if argv:
        sys.stderr.write(f"usage: {REGENERATE}\n")
        return 2
    sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
