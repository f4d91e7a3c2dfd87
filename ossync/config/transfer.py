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

from ossync.config.checks import auto_size_of, schedule_of
from ossync.config.key import format_size
from ossync.config.problems import Problems
from ossync.config.schema import spec
from ossync.core.limits import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_CONCURRENCY,
    OSS_MAX_OBJECT,
    OSS_MIN_PART,
    S3_MAX_OBJECT,
    S3_MIN_PART,
)
from ossync.core.throttle import BandwidthSchedule

MAX_OBJECT = {"oss": OSS_MAX_OBJECT, "s3": S3_MAX_OBJECT, "local": S3_MAX_OBJECT}
MIN_PART = {"oss": OSS_MIN_PART, "s3": S3_MIN_PART, "local": OSS_MIN_PART}
STORE_NAME = {"oss": "OSS", "s3": "S3", "local": "a local folder"}


@dataclass(frozen=True)
class Transfer:
    max_file_size: int = OSS_MAX_OBJECT
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD
    part_size: int | None = None  # None: 8 MiB, grown to fit the file in 10,000 parts
    part_concurrency: int = DEFAULT_PART_CONCURRENCY
    max_bandwidth: BandwidthSchedule | None = None  # None: no cap


def parse_transfer(raw: dict[str, Any], p: Problems, target: str) -> Transfer:
    """The top-level transfer keys, checked against what `target` (oss, s3, local) allows
    and against each other."""
    store = STORE_NAME[target]
    most = MAX_OBJECT[target]
    max_size = p.size(raw, "", "max_file_size", most)
    if max_size > most:
        p.errors.append(f"max_file_size: {store} stores objects of at most "
                        f"{format_size(most)}; set it no higher")
    threshold = p.size(raw, "", "multipart_threshold")
    part_size = p.get(raw, "", "part_size", auto_size_of(spec("part_size")))
    if part_size is not None and part_size < MIN_PART[target]:
        p.errors.append(f"part_size: {store} takes parts of {format_size(MIN_PART[target])} "
                        f"to 5GiB, not {format_size(part_size)} (or leave it auto)")
    elif part_size is not None and part_size > threshold:
        p.errors.append(f"part_size: {format_size(part_size)} is more than "
                        f"multipart_threshold ({format_size(threshold)}), so files in between "
                        "would go as one part; raise multipart_threshold or lower part_size")
    concurrency = p.whole(raw, "", "part_concurrency")
    schedule = p.get(raw, "", "max_bandwidth", schedule_of(spec("max_bandwidth")))
    return Transfer(max_size, threshold, part_size, concurrency, schedule)
