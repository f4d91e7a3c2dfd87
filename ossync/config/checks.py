"""The converters every config value goes through. Each takes what YAML gave (any type)
and returns the value or raises ValueError with a reason fit for one line: a wrong type
names what the key must be, a number out of bounds names the bound.

Nothing here trusts a value to be small: a 5000-digit number, `1e400s`, `nan` or a
string of a megabyte is refused in words, never as an OverflowError or a traceback (the
parsers in `ossync.core.units` would overflow on some of them).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ossync.config.key import NOUN, Key
from ossync.core.keys import template_problem
from ossync.core.throttle import BandwidthSchedule, parse_schedule
from ossync.core.units import parse_duration, parse_size

MAX_TEXT = 4096  # characters in a path, URL or command
MAX_NUMBER_TEXT = 100  # characters in a duration or size
MAX_BITS = 64  # a bigger integer is out of every bound
MAX_SCHEDULE = 48  # entries in a max_bandwidth schedule
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_EXAMPLES = {"duration": "like 30s, 15m, 2h or 7d", "size": "like 20MB or 5GiB",
             "rate": "like 20MB/s or 100Mbit/s, or off"}


def shown(value: object) -> str:
    """A value as a problem line may show it: short, one line, never the whole thing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, int):
        if value.bit_length() > MAX_BITS * 2:
            return f"a number of about {int(value.bit_length() * math.log10(2)) + 1} digits"
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:60]) + "…"
    kinds = {list: "a list", tuple: "a list", dict: "a mapping", bytes: "binary data",
             set: "a set", date: "a date"}
    return next((name for kind, name in kinds.items() if isinstance(value, kind)),
                "a value of another kind")


def shown_path(path: object) -> str:
    """A path for a problem line: as it is when short and printable, else escaped and
    cut in the middle (a path may be 4096 characters of anything but NUL)."""
    written = str(path)
    if not written.isprintable():
        written = repr(written)[1:-1]
    return written if len(written) <= 160 else f"{written[:100]}…{written[-50:]}"


def within(key: Key, value: float, why: str = "") -> float:
    """`value` if it lies in the key's bounds; else the bound it crosses."""
    low, high = key.low, key.high
    assert low is not None and high is not None, f"{key.path} has no bounds"
    if low <= value <= high:
        return value
    if why:
        raise ValueError(f"must be at least {key.show(low)} and at most {key.show(high)} "
                         f"({why}), not {key.show(value)}")
    side = f"at least {key.show(low)}" if value < low else f"at most {key.show(high)}"
    raise ValueError(f"must be {NOUN[key.kind]} of {side}, not {key.show(value)}")


def _numeric(key: Key, value: Any, *, text: bool) -> None:
    """Refuse what is no number of this kind before any parser sees it."""
    noun = NOUN[key.kind]
    example = f" {_EXAMPLES[key.kind]}" if key.kind in _EXAMPLES else ""
    if isinstance(value, bool) or not isinstance(value, (int, float, str) if text
                                                 else (int, float)):
        raise ValueError(f"must be {noun}{example}, not {shown(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"must be {noun}{example}, not {shown(value)}")
    if isinstance(value, int) and value.bit_length() > MAX_BITS:
        raise ValueError(f"must be {noun} of at most {key.show(key.high or 0)}, "
                         f"not {shown(value)}")
    if isinstance(value, str) and len(value) > MAX_NUMBER_TEXT:
        raise ValueError(f"must be {noun}{example}, not {shown(value)}")


def duration_of(key: Key, why: str = "") -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        _numeric(key, value, text=True)
        seconds = parse_duration(value)
        if not math.isfinite(seconds):
            raise ValueError(f"must be a duration of at most {key.show(key.high or 0)}, "
                             f"not {shown(value)}")
        return within(key, seconds, why)
    return convert


def _bytes(value: Any) -> int:
    try:
        return parse_size(value)
    except OverflowError:
        raise ValueError(f"{shown(value)} is too large") from None


def size_of(key: Key) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        _numeric(key, value, text=True)
        return int(within(key, _bytes(value)))
    return convert


def auto_size_of(key: Key) -> Callable[[Any], int | None]:
    """A size, or None for `auto`."""
    sized = size_of(key)

    def convert(value: Any) -> int | None:
        if isinstance(value, str) and value.strip().lower() == "auto":
            return None
        return sized(value)
    return convert


def whole_of(key: Key) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number, not {shown(value)}")
        _numeric(key, value, text=False)
        return int(within(key, value))
    return convert


def number_of(key: Key) -> Callable[[Any], float]:
    def convert(value: Any) -> float:
        _numeric(key, value, text=False)
        return within(key, float(value))
    return convert


def schedule_of(key: Key) -> Callable[[Any], BandwidthSchedule | None]:
    """`max_bandwidth`: off, a rate, or a daily schedule; every rate in the key's bounds."""
    def convert(value: Any) -> BandwidthSchedule | None:
        entries = value if isinstance(value, list) else [value]
        if isinstance(value, list) and not 1 <= len(value) <= MAX_SCHEDULE:
            raise ValueError(f"a schedule has 1 to {MAX_SCHEDULE} entries")
        for entry in entries:
            if entry is not False:
                _numeric(key, entry, text=True)
        try:
            schedule = parse_schedule(value)
        except OverflowError:
            raise ValueError(f"{shown(value)} is too large") from None
        rates = [schedule.default, *(w.rate for w in schedule.windows)]
        for rate in rates:
            if rate is not None:
                within(key, rate)
        return schedule if schedule.limited else None
    return convert


def text(value: Any) -> str:
    """A string; numbers and booleans must be quoted to be one."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f"must be text, not the number {shown(value)} (quote it: "
                         f"\"{shown(value)}\")")
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {shown(value)}")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters (a tab, a new line, NUL)")
    if len(value) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters")
    return value


def choice_of(*allowed: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value is False and "off" in allowed:
            return "off"  # YAML reads a bare `off` as false
        if not isinstance(value, (str, int)) or isinstance(value, bool) or \
                str(value) not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {shown(value)}")
        return str(value)
    return convert


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {shown(value)}")
    return value


def globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"must be a list of glob patterns, not {shown(value)}")
    if any("\x00" in v or len(v) > MAX_TEXT for v in value):
        raise ValueError("a pattern must not contain NUL or be longer than "
                         f"{MAX_TEXT} characters")
    return tuple(value)


def template(value: Any) -> str:
    written = text(value)
    problem = template_problem(written)
    if problem:
        raise ValueError(problem)
    return written


def url(value: Any) -> str:
    written = text(value)
    parts = urlsplit(written)
    if parts.scheme not in ("http", "https") or not parts.hostname or " " in written:
        raise ValueError(f"{shown(written)} is not an http(s) URL (e.g. "
                         "https://oss-cn-hangzhou.aliyuncs.com)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{shown(written)}: the port is not a number from 0 to 65535 "
                         "(e.g. http://127.0.0.1:9000)") from None
    return written.rstrip("/")


def choice_int(*allowed: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if isinstance(value, bool) or value not in allowed:
            raise ValueError(f"must be one of {', '.join(map(str, allowed))}, "
                             f"not {shown(value)}")
        return int(value)
    return convert


def path_text(value: Any) -> str:
    """A file name as written: text without NUL; other control characters are allowed,
    since Linux allows them in names."""
    if not isinstance(value, str):
        return text(value)  # the same words for a number or a list
    if "\x00" in value or not value.strip():
        raise ValueError("must be a path (not empty, without NUL)")
    if len(value) > MAX_TEXT:
        raise ValueError(f"must be at most {MAX_TEXT} characters")
    return value


def local_path(base: Path, value: object) -> Path:
    """Absolute and normalised (`~` expanded, `..` folded), relative to the config's folder.

    Paths in the ledger are compared as text, so `/srv/drop/../drop/x.jpg` must never
    be stored for `/srv/drop/x.jpg`. Symlinks are kept as written.
    """
    return Path(os.path.abspath(base / os.path.expanduser(path_text(value))))
