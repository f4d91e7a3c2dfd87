"""Time helpers: UTC now, RFC 3339 text, and the configured local time zone."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def rfc3339(moment: datetime) -> str:
    """`2026-11-25T16:38:19Z`: UTC, seconds, the form every output of ours uses."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def zone(name: str) -> tzinfo:
    """`local` (the machine's zone), `UTC`, or an IANA name like `Asia/Shanghai`."""
    if name == "local":
        local = datetime.now().astimezone().tzinfo
        return local or timezone.utc
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r} (use local, UTC or e.g. Asia/Shanghai)"
        ) from exc
