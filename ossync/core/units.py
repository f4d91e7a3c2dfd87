"""Parsing of human durations (`15m`, `2h`, `7d`) and sizes (`5GB`), one place for both."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?\s*$", re.IGNORECASE)
Lifetime = float | timedelta  # seconds, or a timedelta: how long a signature lives
_SIZE_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}


def parse_duration(value: object) -> float:
    """Seconds from a number (seconds) or a string like `90s`, `15m`, `2h`, `7d`."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like 30s, 15m, 2h or 7d")
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{value!r} is not a duration (use e.g. 30s, 15m, 2h, 7d)")
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or "s"]
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
        size = int(float(match.group(1)) * factor)
    if size < 0:
        raise ValueError("a size cannot be negative")
    return size


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
        return now - timedelta(seconds=parse_duration(text))
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"{value!r} is not a time: use ISO 8601 (2026-11-25, "
                         "2026-11-25T08:00:00Z) or an age like 2h or 7d") from None
    return moment if moment.tzinfo else moment.astimezone()
