"""The target sections of the config — `oss:`, `s3:`, `local:` — each read into its own
frozen dataclass. Exactly one is configured; `ossync.config` decides which."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ossync.config.checks import _boolean, _choice, _choice_int, _local_path, _Problems, _url
from ossync.config.credential_sources import OSS, S3, Dialect, choose_source, no_credentials_problem
from ossync.core.addressing import is_ip_or_localhost
from ossync.core.credentials import MAX_POLICY_LIFETIME, Credentials
from ossync.core.units import format_duration, parse_duration
from ossync.credentials import Source, StaticSource

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class OssConfig:
    endpoint: str
    region: str
    bucket: str
    credentials: Credentials | None = field(repr=False)  # fixed keys; None: they rotate
    signature_version: int = 4
    public_url: str | None = None
    cname: bool = False
    policy_expires: float = 900.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    url_mode: str = "signed"  # what url/ls/show print: `public` (as recorded) or `signed`
    url_expires: float = 3600.0
    credential_source: Source | None = None  # where `credentials` come from


@dataclass(frozen=True)
class S3Config:
    endpoint: str
    region: str
    bucket: str
    credentials: Credentials | None = field(repr=False)  # fixed keys; None: they rotate
    addressing: str = "virtual"  # `virtual` (bucket.host) or `path` (host/bucket)
    method: str = "post"  # `post` (SigV4 form) or `put` (SigV4 header-signed PutObject)
    if_none_match: bool = True  # PUT with If-None-Match: *; false: HEAD before each PUT
    public_url: str | None = None
    policy_expires: float = 900.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    credential_source: Source | None = None  # where `credentials` come from


@dataclass(frozen=True)
class LocalConfig:
    path: Path
    base_url: str | None = None


KNOWN_OSS = {"endpoint", "region", "bucket", "signature_version", "public_url", "cname",
             "policy_expires", "connect_timeout", "read_timeout", "url_mode", "url_expires",
             *OSS.known_keys}
KNOWN_S3 = {"endpoint", "region", "bucket", "addressing", "method", "if_none_match",
            "public_url", "policy_expires", "connect_timeout", "read_timeout", *S3.known_keys}
KNOWN_LOCAL = {"path", "base_url", "create"}


def region_from_endpoint(endpoint: str) -> str | None:
    """`https://oss-cn-hangzhou[-internal].aliyuncs.com` → `cn-hangzhou`."""
    host = urlsplit(endpoint).hostname or ""
    match = re.match(r"^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$", host)
    return match.group(1) if match else None


def _credentials(raw: dict[str, Any], p: _Problems, env: Mapping[str, str], base: Path,
                 dialect: Dialect) -> tuple[Credentials | None, Source | None]:
    """Fixed keys (or None when they rotate) and their source; a problem when none."""
    source = choose_source(raw, p, env, base, dialect)
    if source is None and not any(e.startswith(f"{dialect.section}.credential_source:")
                                  for e in p.errors):
        p.errors.append(no_credentials_problem(dialect))
    if source is None:
        return Credentials("", ""), None
    return (source.credentials if isinstance(source, StaticSource) else None), source


def _oss(raw: Any, p: _Problems, env: Mapping[str, str], base: Path | None = None) -> OssConfig:
    if not isinstance(raw, dict):
        p.errors.append("oss: missing; add an oss: section with endpoint, region and bucket "
                        "(or an s3: or local: target instead)")
        raw = {}
    p.unknown(raw, KNOWN_OSS, "oss.")
    endpoint = p.get(raw, "oss.", "endpoint", "", _url)
    if "endpoint" not in raw:
        p.errors.append("oss.endpoint: missing (e.g. https://oss-cn-hangzhou.aliyuncs.com)")
    bucket = p.get(raw, "oss.", "bucket", "", str)
    if not _BUCKET.match(bucket):
        p.errors.append(f"oss.bucket: {bucket!r} is not a valid bucket name "
                        "(3-63 lower-case letters, digits and hyphens)")
    cname = p.get(raw, "oss.", "cname", False, _boolean)
    region = p.get(raw, "oss.", "region", "", str).removeprefix("oss-")
    region = region or region_from_endpoint(endpoint) or ""
    if not region and endpoint:
        p.errors.append("oss.region: missing, and it cannot be read from the endpoint "
                        "(set the bucket's region, e.g. cn-hangzhou)")
    expires = p.get(raw, "oss.", "policy_expires", 900.0, parse_duration)
    if not 0 < expires <= MAX_POLICY_LIFETIME.total_seconds():
        p.errors.append("oss.policy_expires: must be more than 0 and at most 7d")
    creds, source = _credentials(raw, p, env, base or Path.cwd(), OSS)
    public_url = p.get(raw, "oss.", "public_url", None, _url)
    url_mode = p.get(raw, "oss.", "url_mode", "public" if public_url else "signed",
                     _choice("public", "signed"))
    url_expires = p.get(raw, "oss.", "url_expires", 3600.0, parse_duration)
    if not 1 <= url_expires <= MAX_POLICY_LIFETIME.total_seconds():
        p.errors.append(f"oss.url_expires: must be at least 1s and at most 7d (the longest "
                        f"OSS accepts for a signed URL), not {format_duration(url_expires)}")
    return OssConfig(
        endpoint=endpoint, region=region, bucket=bucket, credentials=creds,
        signature_version=p.get(raw, "oss.", "signature_version", 4, _choice_int(1, 4)),
        public_url=public_url, cname=cname, policy_expires=expires,
        connect_timeout=p.get(raw, "oss.", "connect_timeout", 10.0, parse_duration),
        read_timeout=p.get(raw, "oss.", "read_timeout", 60.0, parse_duration),
        url_mode=url_mode, url_expires=url_expires, credential_source=source,
    )


_NO_POST_STORES = {".r2.cloudflarestorage.com": "Cloudflare R2", ".myqcloud.com": "Tencent COS"}


def _s3(raw: Any, p: _Problems, env: Mapping[str, str], base: Path | None = None) -> S3Config:
    if not isinstance(raw, dict):
        p.errors.append("s3: must be a mapping with endpoint, region and bucket")
        raw = {}
    p.unknown(raw, KNOWN_S3, "s3.")
    endpoint = p.get(raw, "s3.", "endpoint", "", _url)
    if "endpoint" not in raw:
        p.errors.append("s3.endpoint: missing (e.g. https://s3.eu-west-1.amazonaws.com)")
    bucket = p.get(raw, "s3.", "bucket", "", str)
    if not _S3_BUCKET.match(bucket):
        p.errors.append(f"s3.bucket: {bucket!r} is not a valid bucket name "
                        "(3-63 lower-case letters, digits, dots and hyphens)")
    host = urlsplit(endpoint).hostname or ""
    by_ip = is_ip_or_localhost(host)
    addressing = p.get(raw, "s3.", "addressing", "path" if by_ip else "virtual",
                       _choice("virtual", "path"))
    if addressing == "virtual" and by_ip:
        p.errors.append("s3.addressing: virtual needs a host name (bucket.host); use path "
                        "with an IP address or localhost")
    method = p.get(raw, "s3.", "method", "post", _choice("post", "put"))
    store = next((n for end, n in _NO_POST_STORES.items() if host.endswith(end)), None)
    if method == "post" and store:
        p.errors.append(f"s3.method: {store} takes no SigV4 POST uploads; set method: put")
    expires = p.get(raw, "s3.", "policy_expires", 900.0, parse_duration)
    if not 0 < expires <= MAX_POLICY_LIFETIME.total_seconds():
        p.errors.append("s3.policy_expires: must be more than 0 and at most 7d")
    creds, source = _credentials(raw, p, env, base or Path.cwd(), S3)
    return S3Config(
        endpoint=endpoint, bucket=bucket, credentials=creds, addressing=addressing,
        region=p.get(raw, "s3.", "region", "", str) or _aws_region(host) or "us-east-1",
        method=method, if_none_match=p.get(raw, "s3.", "if_none_match", True, _boolean),
        public_url=p.get(raw, "s3.", "public_url", None, _url), policy_expires=expires,
        connect_timeout=p.get(raw, "s3.", "connect_timeout", 10.0, parse_duration),
        read_timeout=p.get(raw, "s3.", "read_timeout", 60.0, parse_duration),
        credential_source=source,
    )


def _aws_region(host: str) -> str | None:
    """`s3.eu-west-1.amazonaws.com` or `s3-eu-west-1.amazonaws.com` → `eu-west-1`."""
    match = re.match(r"^(?:.+\.)?s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$", host)
    return match.group(1) if match else None


def _local(raw: Any, p: _Problems, base: Path) -> LocalConfig:
    if not isinstance(raw, dict) or "path" not in raw:
        p.errors.append("local.path: missing (the folder objects are copied into)")
        raw = raw if isinstance(raw, dict) else {}
    p.unknown(raw, KNOWN_LOCAL, "local.")
    folder = p.get(raw, "local.", "path", base, lambda v: _local_path(base, v))
    if p.get(raw, "local.", "create", False, _boolean):
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        p.errors.append(f"local.path: {folder} is not a directory (create it, or set "
                        "create: true)")
    elif not os.access(folder, os.W_OK | os.X_OK):
        p.errors.append(f"local.path: {folder} is not writable by this user")
    return LocalConfig(path=folder, base_url=p.get(raw, "local.", "base_url", None, _url))
