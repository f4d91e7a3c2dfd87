"""What the verifiers look at, shared by OSS auth (`auth`) and the S3 dialect (`sigv4`):
the signed request as the server parsed it, and a V4 credential scope."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class SignedRequest:
    """What header auth signs: method, bucket, key, decoded query, headers, host."""

    method: str
    bucket: str
    key: str
    query: Sequence[tuple[str, str]]
    headers: Mapping[str, str]  # lower-case names
    host: str

    def url(self) -> str:
        """The URL with the query re-encoded canonically (RFC 3986, as the SDK sends it)."""
        pairs = [f"{quote(k, safe='')}={quote(v, safe='')}" if v else quote(k, safe="")
                 for k, v in self.query]
        query = "?" + "&".join(pairs) if pairs else ""
        return f"http://{self.host}/{quote(self.bucket)}/{quote(self.key)}{query}"


@dataclass(frozen=True)
class Scope:
    """A V4 credential's scope: `KEY-ID/DAY/REGION/…` (OSS4 and AWS4 alike)."""

    access_key_id: str
    day: str
    region: str
