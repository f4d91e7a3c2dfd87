"""Arguments checked where they are parsed: a parser whose complaints are one line, the
options every command shares, and value types that refuse what no command could use
(a port past 65535, a limit of zero, a NUL in a path) before anything runs."""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import NoReturn

from ossync.cli.errors import ArgumentError, argparse_message, shown
from ossync.core.textforms import ledger_text

DEFAULT_CONFIG = "/etc/ossync/config.yaml"
MAX_LIMIT = 2**63 - 1  # what SQL's LIMIT takes; more rows than any ledger holds
_WHOLE = re.compile(r"^\s*\+?(\d+)\s*$")


class Parser(argparse.ArgumentParser):
    """argparse, except that a mistake is raised (one line for `main()` to print) instead
    of a usage block and an exit from deep inside parsing."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentError(argparse_message(self.prog, message))


def logging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-level", default="info",
                        choices=["debug", "info", "warning", "error"],
                        help="how much to log on stderr (default: info; debug adds "
                             "tracebacks)")
    parser.add_argument("--log-format", default="auto",
                        choices=["auto", "human", "journal", "json"],
                        help="auto (default): journal priorities when stderr is the journal, "
                             "else human lines; json: one object per line")


def config_options(parser: argparse.ArgumentParser) -> None:
    """`--log-level`, `--log-format` and `-c`: what every config-reading command takes."""
    logging_options(parser)
    parser.add_argument(
        "-c", "--config", type=path_arg,
        default=Path(os.environ.get("OSSYNC_CONFIG", DEFAULT_CONFIG)),
        help=f"config file (default: $OSSYNC_CONFIG or {DEFAULT_CONFIG})",
    )


def path_text(text: str) -> str:
    """A path as the shell gave it (bytes that are not UTF-8 arrive as surrogates and are
    kept); only a NUL, which no path can hold, is refused."""
    if "\0" in text:
        raise argparse.ArgumentTypeError(f"{shown(text)}: a path cannot contain a NUL byte")
    return text


def path_arg(text: str) -> Path:
    return Path(path_text(text))


def text_arg(value: str) -> str:
    """A name the ledger stores as text (a folder label, a host, a key): bytes that are
    not UTF-8 in its ledger form, which matches nothing instead of failing."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return ledger_text(value)
    return value


def port(text: str) -> int:
    found = _WHOLE.match(text)
    if not found or len(found.group(1)) > 5 or int(found.group(1)) > 65535:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a TCP port: use a number "
                                         "from 0 to 65535 (0 picks a free one)")
    return int(found.group(1))


def limit(text: str) -> int:
    """At least 1; more than any ledger holds means all of them."""
    found = _WHOLE.match(text)
    if not found or not found.group(1).strip("0"):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a limit: use a whole "
                                         "number of at least 1")
    digits = found.group(1).lstrip("0")
    return MAX_LIMIT if len(digits) > 19 else min(int(digits), MAX_LIMIT)
