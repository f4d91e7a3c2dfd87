"""Bytes and addresses for the S3 target: bucket URLs, file digests, and what an ETag
says about the object's MD5."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from io import BufferedReader
from urllib.parse import urlsplit

from ossync.core.addressing import is_ip_or_localhost
from ossync.core.chunks import chunks
from ossync.core.crc64 import Crc64
from ossync.core.objects import ObjectInfo

_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
# Objects encrypted with SSE-KMS or SSE-C have ETags that are not their MD5.
_OPAQUE_ETAG_SSE = ("aws:kms", "aws:kms:dsse")


def bucket_url(endpoint: str, bucket: str, addressing: str) -> str:
    """`scheme://bucket.host` (virtual) or `scheme://host/bucket` (path), no trailing slash."""
    scheme, _, rest = endpoint.rstrip("/").partition("://")
    if addressing == "path":
        return f"{scheme}://{rest}/{bucket}"
    return f"{scheme}://{bucket}.{rest}"


def default_addressing(endpoint: str) -> str:
    """Path-style for an IP address or `localhost` (no DNS for `bucket.host`), else virtual."""
    return "path" if is_ip_or_localhost(urlsplit(endpoint).hostname or "") else "virtual"


@dataclass(frozen=True)
class Digests:
    size: int
    md5: str  # hex
    sha256: str  # hex
    crc64: int


def digests_of(fh: BufferedReader) -> Digests:
    """MD5, SHA-256 and CRC-64 of an open file in one pass, then back to its start."""
    md5, sha, crc, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), Crc64(), 0
    fh.seek(0)
    for chunk in chunks(fh):
        md5.update(chunk)
        sha.update(chunk)
        crc.update(chunk)
        size += len(chunk)
    fh.seek(0)
    return Digests(size, md5.hexdigest(), sha.hexdigest(), crc.value)


def etag_md5(etag: str | None, headers: Mapping[str, str]) -> str | None:
    """The MD5 an ETag stands for, or None when it is not one (multipart, SSE-KMS, SSE-C)."""
    match = _MD5_ETAG.match(etag or "")
    if match is None or headers.get("x-amz-server-side-encryption") in _OPAQUE_ETAG_SSE or (
        "x-amz-server-side-encryption-customer-algorithm" in headers
    ):
        return None
    return match.group(1).lower()


@dataclass(frozen=True)
class ObjectMd5(ObjectInfo):
    md5: str | None = None  # the ETag's MD5, when the ETag is one
