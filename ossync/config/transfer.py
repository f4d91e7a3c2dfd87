"""How files travel: the biggest file accepted, when and how a file goes in parts, and
the bandwidth cap (`max_file_size`, `multipart_threshold`, `part_size`,
`part_concurrency`, `max_bandwidth`).

The limits are the stores' own (`ossync.core.limits`): one request carries at most
5 GiB, so bigger files must go in parts; a part is at least 100 KB on OSS and 5 MiB
on S3; an object is at most 48.8 TB on OSS and 5 TiB on S3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ossync.config.checks import _positive_int, _Problems
from ossync.core.limits import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_CONCURRENCY,
    OSS_MAX_OBJECT,
    OSS_MIN_PART,
    S3_MAX_OBJECT,
    S3_MIN_PART,
    SINGLE_REQUEST_MAX,
)
from ossync.core.throttle import BandwidthSchedule, parse_schedule
from ossync.core.units import parse_size

MAX_CONCURRENCY = 64
MAX_OBJECT = {"oss": OSS_MAX_OBJECT, "s3": S3_MAX_OBJECT, "local": S3_MAX_OBJECT}
MIN_PART = {"oss": OSS_MIN_PART, "s3": S3_MIN_PART, "local": 1}
STORE_NAME = {"oss": "OSS", "s3": "S3", "local": "a local folder"}


@dataclass(frozen=True)
class Transfer:
    max_file_size: int = OSS_MAX_OBJECT
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int | None = None  # None: 8 MiB, grown to fit the file in 10,000 parts
    part_concurrency: int = DEFAULT_PART_CONCURRENCY
    max_bandwidth: BandwidthSchedule | None = None  # None: no cap


def parse_transfer(raw: dict[str, Any], p: _Problems, target: str) -> Transfer:
    """The top-level transfer keys, checked against what `target` (oss, s3, local) allows."""
    store = STORE_NAME[target]
    most = MAX_OBJECT[target]
    max_size = p.get(raw, "", "max_file_size", most, parse_size)
    if max_size > most:
        p.errors.append(f"max_file_size: {store} stores objects of at most {most} bytes; "
                        "set it no higher")
    threshold = p.get(raw, "", "multipart_threshold", DEFAULT_MULTIPART_THRESHOLD, parse_size)
    if not 1 <= threshold <= SINGLE_REQUEST_MAX:
        p.errors.append("multipart_threshold: must be between 1 byte and 5GiB (one request "
                        "carries at most 5GiB; bigger files always go in parts)")
    part_size = p.get(raw, "", "part_size", None, _auto_size)
    if part_size is not None and not MIN_PART[target] <= part_size <= SINGLE_REQUEST_MAX:
        p.errors.append(f"part_size: {store} takes parts of {MIN_PART[target]} bytes to "
                        f"5GiB, not {part_size} (or leave it auto)")
    concurrency = p.get(raw, "", "part_concurrency", DEFAULT_PART_CONCURRENCY, _positive_int)
    if concurrency > MAX_CONCURRENCY:
        p.errors.append(f"part_concurrency: at most {MAX_CONCURRENCY}")
    schedule = p.get(raw, "", "max_bandwidth", None, parse_schedule)
    return Transfer(max_size, threshold, part_size, concurrency,
                    schedule if schedule is not None and schedule.limited else None)


def _auto_size(value: Any) -> int | None:
    return None if str(value).strip().lower() == "auto" else parse_size(value)
