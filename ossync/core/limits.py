"""What object stores allow in one request and one object: the numbers config checks,
part planning and the local endpoint all use.

OSS: PostObject and a single part at most 5 GiB, at most 10,000 parts, every part but
the last at least 100 KB, an object at most 48.8 TB (10,000 × 5 GiB). S3: parts of
5 MiB to 5 GiB, 10,000 parts, objects up to 5 TiB.
"""

from __future__ import annotations

GIB = 1024**3
MIB = 1024**2
SINGLE_REQUEST_MAX = 5 * GIB  # PostObject, PutObject and one part alike
MAX_PARTS = 10_000
OSS_MIN_PART = 100 * 1024
S3_MIN_PART = 5 * MIB
OSS_MAX_OBJECT = MAX_PARTS * SINGLE_REQUEST_MAX
S3_MAX_OBJECT = 5 * 1024**4

# Our defaults within those limits (`multipart_threshold`, `part_size`, `part_concurrency`).
DEFAULT_MULTIPART_THRESHOLD = 64 * MIB
DEFAULT_PART_SIZE = 8 * MIB
DEFAULT_PART_CONCURRENCY = 4
