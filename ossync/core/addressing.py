"""Which URL a bucket and its objects live at: path-style, virtual-hosted, or custom domain."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import quote, urlsplit

PROCESS = "x-oss-process"  # OSS's image-processing parameter (resize, crop, format)


def is_ip_or_localhost(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def bucket_url(endpoint: str, bucket: str, *, cname: bool = False) -> str:
    """Where requests for the bucket go (no trailing slash).

    A custom domain is the bucket itself; an IP or `localhost` endpoint takes the
    bucket in the path; anything else is virtual-hosted `bucket.host`, as OSS requires.
    """
    parts = urlsplit(endpoint.rstrip("/"))
    if cname:
        return f"{parts.scheme}://{parts.netloc}"
    if is_ip_or_localhost(parts.hostname or ""):
        return f"{parts.scheme}://{parts.netloc}/{bucket}"
    return f"{parts.scheme}://{bucket}.{parts.netloc}"


def object_url(base: str, key: str) -> str:
    """`base/key` with the key percent-encoded as UTF-8, `/` kept."""
    return f"{base.rstrip('/')}/{quote(key, safe='/')}"


def with_query(url: str, query: Mapping[str, str] | Iterable[tuple[str, str]]) -> str:
    """`url?name=value&flag`: names and values percent-encoded (RFC 3986), an empty value
    as the bare name, in the order given (OSS sub-resources like `?uploads`)."""
    pairs = query.items() if isinstance(query, Mapping) else query
    text = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" if v else quote(k, safe="")
                    for k, v in pairs)
    return f"{url}{'&' if '?' in url else '?'}{text}" if text else url


def with_process(url: str, process: str | None) -> str:
    """A plain (public-bucket or CDN) URL with `x-oss-process` added, unsigned."""
    if not process:
        return url
    return f"{url}{'&' if '?' in url else '?'}{PROCESS}={quote(process, safe='')}"
