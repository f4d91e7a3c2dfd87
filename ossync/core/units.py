"""Parsing of human durations (`15m`, `2h`, `7d`), sizes (`5GB`) and rates (`20MB/s`,
`100Mbit/s`), one place for all three."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
Lifetime = float | timedelta  # seconds, or a timedelta: how long a signature lives
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_BIT_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:bit/s|bps)\s*$", re.IGNORECASE)
UNLIMITED = ("off", "unlimited", "none")
# Far beyond any sane setting, yet small enough for every float, int and timedelta use.
MAX_SECONDS = 100 * 365 * 86400.0
MAX_BYTES = 2**63 - 1


def _finite(number: float, most: float, what: str) -> float:
    """`number` if it is a real number no larger than `most`; ValueError otherwise, so
    nan, inf and 400-digit values never reach a timer, a sum or an int()."""
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"{what} must be a finite number")
    if abs(number) > most:
        raise ValueError(f"{what} is far too large")
    return number


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string like `90s`, `15m`, `2h`, `7d`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 2h or 7d")
    try:
        if isinstance(value, (int, float)):
            seconds = float(value)
        else:
            match = _DURATION.match(str(value))
            if not match:
                raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 2h, 7d)")
            seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
    except OverflowError:
        raise ValueError("a duration is far too large") from None
    _finite(seconds, MAX_SECONDS, "a duration")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from a number or a string like `20MB`, `5GiB`, `512k`."""
    if isinstance(value, bool):
        raise ValueError("expected a size like 20MB or 5GiB")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a size (use e.g. 20MB, 5GiB)")
        unit = (match.group(2) or "").lower()
        base = 1024 if "i" in unit else 1
        letter = unit[:1] if unit not in ("b", "") else ""
        factor = _SIZE_UNITS[letter] if base == 1 else 1024 ** "bkmgt".index(letter)
        try:
            size = int(_finite(float(match.group(1)) * factor, MAX_BYTES, "a size"))
        except OverflowError:
            raise ValueError("a size is far too large") from None
    if size > MAX_BYTES:
        raise ValueError("a size is far too large")
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


def parse_rate(value: object) -> float | None:
    """Bytes per second from `20MB/s`, `512KiB/s`, `100Mbit/s` (or `100Mbps`), a bare
    number of bytes per second; None for `off`/`unlimited`/`none`/0."""
    text = str(value).strip()
    if isinstance(value, bool) or text.lower() in UNLIMITED:
        if isinstance(value, bool) and value:
            raise ValueError("expected a rate like 20MB/s or 100Mbit/s, or off")
        return None
    bits = _BIT_RATE.match(text)
    if bits:
        try:
            rate = _finite(float(bits.group(1)) * _SIZE_UNITS[bits.group(2).lower()] / 8,
                           MAX_BYTES, "a rate")
        except OverflowError:
            raise ValueError("a rate is far too large") from None
    else:
        if isinstance(value, str) and not text.lower().endswith("/s"):
            raise ValueError(f"{value!r} is not a rate (use e.g. 20MB/s, 512KiB/s, "
                             "100Mbit/s, or off)")
        try:
            rate = float(parse_size(text[:-2] if text.lower().endswith("/s") else value))
        except ValueError:
            raise ValueError(f"{value!r} is not a rate (use e.g. 20MB/s, 512KiB/s, "
                             "100Mbit/s, or off)") from None
    return rate or None


def format_rate(rate: float | None) -> str:
    """`5 MB/s`, `512 kB/s` (decimal units, as ISPs and rate limits speak), or `off`."""
    if rate is None:
        return "off"
    for unit, step in (("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if rate >= step:
            return f"{rate / step:g} {unit}"
    return f"{rate:g} B/s"


def format_duration(seconds: float) -> str:
    """Shortest exact form: 900 → `15m`, 90 → `90s`."""
    for unit in ("w", "d", "h", "m"):
        step = _DURATION_UNITS[unit]
        if seconds >= step and seconds % step == 0:
            return f"{int(seconds // step)}{unit}"
    return f"{seconds:g}s"


def parse_time(value: str, now: datetime | None = None) -> datetime:
    """An aware moment from ISO 8601 (`2026-11-25`, `2026-11-25T08:00`, `…Z`, `…+08:00`;
    naive means local time) or a relative age (`2h`, `7d` ago)."""
    now = now or datetime.now(timezone.utc)
    text = value.strip()
    if _DURATION.match(text) and not text.replace(".", "").isdigit():
        try:
            return now - timedelta(seconds=parse_duration(text))
        except OverflowError:
            raise ValueError(f"{value!r} reaches back before the year 1") from None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a time: use ISO 8601 (2026-11-25, "
                         "2026-11-25T08:00:00Z) or an age like 2h or 7d") from None
    return moment if moment.tzinfo else moment.astimezone()
