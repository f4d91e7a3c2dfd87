"""Query values of `/v1/files`, read strictly: whatever a caller sends, a value is either
what it should be or a 400 with one short reason that does not repeat it.

Numbers are ASCII digits and short (`str.isdigit` and `int` take `١٢` and `²`, and
`int` raises on 5000 digits); times lie between 1970 and 9999 (Python's dates stop at
year 9999, and arithmetic near either end overflows); only a path or a folder, which
name files, may hold control characters — never NUL.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from ossync.core.units import parse_duration, parse_time
from ossync.http.wsgi import HttpProblem, Request

MAX_TEXT = 4096  # characters of a path, key or processing spec
MAX_WORD = 64  # characters of a number, time, duration, flag or state
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(9999, 1, 1, tzinfo=timezone.utc)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_AGE = re.compile(r"[0-9]{1,9}(\.[0-9]{1,6})?[smhd]?", re.ASCII)


def text(req: Request, name: str, *, names_a_file: bool = False) -> str | None:
    """A value as text: bounded, no NUL, and no control character unless it names a file."""
    value = req.arg(name)
    if value is None:
        return None
    if len(value) > MAX_TEXT or "\x00" in value:
        raise HttpProblem(400, f"{name}: too long, or not text")
    if not names_a_file and _CONTROL.search(value):
        raise HttpProblem(400, f"{name}: holds control characters")
    return value


def word(req: Request, name: str) -> str | None:
    """A short ASCII value without controls: a number, a time, a flag, a state."""
    value = req.arg(name)
    if value is not None and (len(value) > MAX_WORD or not value.isascii()
                              or not value.isprintable()):
        raise HttpProblem(400, f"{name}: not a value this API takes (short, plain ASCII)")
    return value


def whole(req: Request, name: str, low: int, high: int) -> int | None:
    value = req.arg(name)
    if value is None:
        return None
    if len(value) > len(str(high)) or not _DIGITS.fullmatch(value) or \
            not low <= int(value) <= high:
        raise HttpProblem(400, f"{name}: must be a whole number from {low} to {high}")
    return int(value)


def flag(req: Request, name: str) -> bool | None:
    value = word(req, name)
    if value is None:
        return None
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise HttpProblem(400, f"{name}: must be true or false")


def moment(req: Request, name: str) -> datetime | None:
    """ISO 8601 or an age (`2h`, `7d` ago), between 1970 and 9999."""
    value = word(req, name)
    if value is None:
        return None
    if value[:1].isdigit() and value[-1:] in "smhd" and not _AGE.fullmatch(value):
        raise HttpProblem(400, f"{name}: not an age like 2h or 7d")
    try:
        found = parse_time(value)
        if EARLIEST <= found <= LATEST:
            return found
    except (ValueError, OverflowError):
        raise HttpProblem(400, f"{name}: not a time: use ISO 8601 (2026-11-25, "
                               "2026-11-25T08:00:00Z) or an age like 2h or 7d") from None
    raise HttpProblem(400, f"{name}: must be a time from 1970 to 9999")


def seconds(req: Request, name: str) -> float | None:
    """A duration (`90s`, `15m`, `2h`, `7d`)."""
    value = word(req, name)
    if value is None:
        return None
    if not _AGE.fullmatch(value):
        raise HttpProblem(400, f"{name}: not a duration like 90s, 15m, 2h or 7d")
    try:
        return parse_duration(value)
    except (ValueError, OverflowError):
        raise HttpProblem(400, f"{name}: not a duration like 90s, 15m, 2h or 7d") from None
