"""Exit statuses, and every failure as the one line a person reads.

`main()` hands whatever a command raised to `report`, so no traceback reaches a user:
an error we expected names its cause and its fix; anything else is a bug, said in one
line (`--log-level debug` adds the traceback) with its own status, 70.
"""

from __future__ import annotations

import enum
import re
import traceback
from typing import TextIO

from ossync.core.errors import ConfigError, OssyncError
from ossync.core.textforms import is_plain, printable
from ossync.service.logsetup import error_text, redact

SHOWN_CHARS = 120  # of an argument echoed in a message: enough to recognise it


class ExitStatus(enum.IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    BAD_LEDGER = 65  # EX_DATAERR
    NO_LEDGER = 66  # EX_NOINPUT
    SOFTWARE = 70  # EX_SOFTWARE
    CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus=78 stops a restart loop
    INTERRUPTED = 130


# What each status means, as docs/commands.md says it (`python -m ossync.cli.reference`).
MEANINGS = {
    ExitStatus.OK: "done",
    ExitStatus.FAILED: "some file or look-up failed (the rest went through), or the ledger "
                       "could not be used",
    ExitStatus.USAGE: "bad arguments: the command line cannot be used as it is",
    ExitStatus.BAD_LEDGER: "the ledger is not an ossync ledger, or it is damaged",
    ExitStatus.NO_LEDGER: "there is no ledger there (yet)",
    ExitStatus.SOFTWARE: "an internal error (a bug: please report it), or a daemon stage "
                         "that kept crashing was given up",
    ExitStatus.CONFIG: "a bad config: every problem is named; systemd does not restart "
                       "the daemon on it",
    ExitStatus.INTERRUPTED: "interrupted (Ctrl-C)",
}


class UsageError(OssyncError):
    """Bad arguments (a time that is not a time, a bad limit, a port out of range): 2."""


class ArgumentError(UsageError):
    """argparse's complaint, already prefixed with the command (`ossync ls: ...`)."""


class NotFound(OssyncError):
    """A looked-up path, key or hash is not in the ledger: exit status 1."""


def shown(value: object) -> str:
    """An argument as a message may echo it: printable, and cut when it is very long."""
    text = printable(str(value))
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def line(text: str) -> str:
    """`text` as one safe line of stderr: secrets masked; when anything in it could break
    the line or the terminal (a control, a byte that is not UTF-8), all of it escaped."""
    text = redact(text)
    return text if is_plain(text.replace("\\", "")) else printable(text)


def status_for(exc: OssyncError) -> ExitStatus:
    from ossync.ledger import LedgerCorrupt, LedgerMissing

    if isinstance(exc, ConfigError):
        return ExitStatus.CONFIG
    if isinstance(exc, UsageError):
        return ExitStatus.USAGE
    if isinstance(exc, LedgerMissing):
        return ExitStatus.NO_LEDGER
    if isinstance(exc, LedgerCorrupt):
        return ExitStatus.BAD_LEDGER
    return ExitStatus.FAILED


def report(exc: OssyncError, stderr: TextIO) -> ExitStatus:
    """One line (a config's several problems: one line each) and the exit status."""
    if isinstance(exc, ConfigError):
        source = line(exc.source)
        if len(exc.problems) == 1:
            stderr.write(error_text(f"ossync: bad config {source}: {line(exc.problems[0])}\n"))
        else:
            stderr.write(error_text(f"ossync: bad config {source}:\n"))
            for problem in exc.problems:
                stderr.write(error_text(f"  {line(problem)}\n"))
        return ExitStatus.CONFIG
    text = str(exc)
    if exc.hint and exc.hint not in text:
        text = f"{text}; {exc.hint}"
    prefix = "" if isinstance(exc, ArgumentError) else "ossync: "
    stderr.write(error_text(f"{prefix}{line(text)}\n"))
    return status_for(exc)


def report_os_error(exc: OSError, stderr: TextIO, debug: bool) -> ExitStatus:
    """What the system refused that no command expected (a disk full, a file gone)."""
    where = f" ({shown(exc.filename)})" if exc.filename is not None else ""
    stderr.write(error_text(f"ossync: {line(f'{exc.strerror or exc}{where}')}\n"))
    if debug:
        _traceback(exc, stderr)
    return ExitStatus.FAILED


def report_bug(exc: BaseException, stderr: TextIO, debug: bool) -> ExitStatus:
    """The last resort: one line, the traceback only when asked for."""
    detail = line(" ".join(str(exc).split()) or "no detail")[:300]
    advice = "please report it" if debug else (
        "run again with --log-level debug for the traceback, and please report it")
    stderr.write(error_text(f"ossync: internal error: {type(exc).__name__}: {detail}; "
                            f"{advice}\n"))
    if debug:
        _traceback(exc, stderr)
    return ExitStatus.SOFTWARE


def _traceback(exc: BaseException, stderr: TextIO) -> None:
    text = "".join(traceback.format_exception(exc))
    stderr.write(error_text("\n".join(line(t) for t in text.splitlines()) + "\n"))


_LONG_QUOTED = re.compile(rf"'([^']{{{SHOWN_CHARS}}})[^']+'")


def argparse_message(prog: str, message: str) -> str:
    """argparse's complaint, with the value it quotes cut short and the way to help."""
    message = _LONG_QUOTED.sub(lambda m: f"'{m.group(1)}…'", message)
    return f"{prog}: {message} (see {prog} --help)"
