"""The target sections of the config — `oss:`, `s3:`, `local:` — each read into its own
frozen dataclass. Exactly one is configured for the primary (`ossync.config` decides
which), and one in each replica (`ossync.config.replicas`); `OneTarget` is what both
say about theirs."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ossync.config.checks import choice_int, local_path, shown, shown_path, text, url
from ossync.config.credential_sources import OSS, S3, Dialect, choose_source, no_credentials_problem
from ossync.config.problems import Problems
from ossync.core.addressing import is_ip_or_localhost
from ossync.core.credentials import Credentials
from ossync.credentials import Source, StaticSource

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_NO_POST_STORES = {".r2.cloudflarestorage.com": "Cloudflare R2", ".myqcloud.com": "Tencent COS"}


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


class OneTarget:
    """What a config with one target section (the top level, a replica) says about it."""

    oss: OssConfig | None
    s3: S3Config | None
    local: LocalConfig | None

    @property
    def target(self) -> OssConfig | S3Config | LocalConfig:
        """The one configured target section."""
        section = self.oss or self.s3 or self.local
        assert section is not None, "parse_config guarantees a target"
        return section

    @property
    def target_name(self) -> str:
        """`oss`, `s3` or `local`."""
        return "oss" if self.oss else "s3" if self.s3 else "local"

    @property
    def bucket(self) -> str:
        """What the ledger records as `bucket`: the bucket name, or the local folder."""
        target = self.target
        return str(target.path) if isinstance(target, LocalConfig) else target.bucket

    @property
    def credentials(self) -> Credentials | None:
        target = self.target
        return None if isinstance(target, LocalConfig) else target.credentials

    @property
    def credential_source(self) -> Source | None:
        """Where the target's keys come from (None for a local folder)."""
        target = self.target
        return None if isinstance(target, LocalConfig) else target.credential_source


Keys = tuple[Credentials | None, Source | None]  # fixed keys (None: they rotate), source


def region_from_endpoint(endpoint: str) -> str | None:
    """`https://oss-cn-hangzhou[-internal].aliyuncs.com` → `cn-hangzhou`."""
    host = urlsplit(endpoint).hostname or ""
    match = re.match(r"^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$", host)
    return match.group(1) if match else None


def _section(raw: Any, name: str, needs: str, p: Problems) -> dict[Any, Any] | None:
    """The section's mapping; None (and one problem) when it is something else."""
    if isinstance(raw, dict):
        p.unknown(raw, name, f"{name}.")
        return raw
    p.errors.append(f"{name}: must be a mapping with {needs}, not {shown(raw)}")
    return None


def _credentials(raw: Mapping[Any, Any], p: Problems, env: Mapping[str, str], base: Path,
                 dialect: Dialect) -> tuple[Credentials | None, Source | None]:
    """Fixed keys (or None when they rotate) and their source; a problem when none."""
    source = choose_source(raw, p, env, base, dialect)
    if source is None and not any(e.startswith(f"{dialect.section}.credential_source:")
                                  for e in p.errors):
        p.errors.append(no_credentials_problem(dialect))
    if source is None:
        return Credentials("", ""), None
    return (source.credentials if isinstance(source, StaticSource) else None), source


def _endpoint(raw: Mapping[Any, Any], p: Problems, section: str, example: str) -> str:
    endpoint = p.get_or(raw, f"{section}.", "endpoint", url, "")
    if "endpoint" not in raw:
        p.errors.append(f"{section}.endpoint: missing (e.g. {example})")
    parts = urlsplit(endpoint)
    if parts.path.strip("/") or parts.query or parts.fragment:
        p.errors.append(f"{section}.endpoint: {shown(endpoint)} has a path or query; give "
                        f"the endpoint alone ({parts.scheme}://{parts.netloc}) and put a "
                        "folder in the key templates (prefix:)")
        return f"{parts.scheme}://{parts.netloc}"
    return endpoint


def _names_bucket(endpoint: str, bucket: str, section: str, p: Problems) -> str:
    """An endpoint copied from the bucket's overview page (`my-bucket.oss-….com`) would
    make every URL `my-bucket.my-bucket.oss-….com`: a problem, and the region endpoint
    it should have been (else `endpoint` as it is)."""
    host = urlsplit(endpoint).hostname or ""
    rest = host.removeprefix(f"{bucket}.")
    if bucket and rest != host and rest.count(".") >= 2 and not is_ip_or_localhost(host):
        p.errors.append(f"{section}.endpoint: {host} already names the bucket "
                        f"({section}.bucket: {bucket}); give the region endpoint "
                        f"https://{rest} and the bucket separately")
        return f"https://{rest}"
    return endpoint


def parse_oss(raw: Any, p: Problems, env: Mapping[str, str], base: Path | None = None,
         inherited: Keys | None = None) -> OssConfig:
    """`inherited`: a replica's keys taken from the primary, not looked for here."""
    if raw is None:
        p.errors.append("oss: missing; add an oss: section with endpoint, region and bucket "
                        "(or an s3: or local: target instead)")
        return OssConfig("", "", "", None)
    raw = _section(raw, "oss", "endpoint, region and bucket", p)
    if raw is None:
        return OssConfig("", "", "", None)
    endpoint = _endpoint(raw, p, "oss", "https://oss-cn-hangzhou.aliyuncs.com")
    bucket = p.get_or(raw, "oss.", "bucket", text, "")
    if raw.get("bucket") is None:
        p.errors.append("oss.bucket: missing: the bucket's name (e.g. my-bucket)")
    elif bucket and not _BUCKET.match(bucket):
        p.errors.append(f"oss.bucket: {shown(bucket)} is not a valid bucket name "
                        "(3-63 lower-case letters, digits and hyphens)")
    cname = p.flag(raw, "oss.", "cname")
    regional = endpoint if cname else _names_bucket(endpoint, bucket, "oss", p)
    region = p.get_or(raw, "oss.", "region", text, "").removeprefix("oss-")
    region = region or region_from_endpoint(regional) or ""
    p.settings["oss.region"] = region
    if not region and endpoint:
        p.errors.append("oss.region: missing, and it cannot be read from oss.endpoint "
                        "(set the bucket's region, e.g. cn-hangzhou)")
    expires = p.duration(raw, "oss.", "policy_expires",
                         why="the longest OSS accepts for a signed form is 7d")
    creds, source = inherited or _credentials(raw, p, env, base or Path.cwd(), OSS)
    public_url = p.optional(raw, "oss.", "public_url", url)
    url_mode = p.choice(raw, "oss.", "url_mode", "public" if public_url else "signed")
    return OssConfig(
        endpoint=endpoint, region=region, bucket=bucket, credentials=creds,
        signature_version=p.get(raw, "oss.", "signature_version", choice_int(1, 4)),
        public_url=public_url, cname=cname, policy_expires=expires,
        connect_timeout=p.duration(raw, "oss.", "connect_timeout"),
        read_timeout=p.duration(raw, "oss.", "read_timeout"), url_mode=url_mode,
        url_expires=p.duration(raw, "oss.", "url_expires",
                               why="the longest OSS accepts for a signed URL"),
        credential_source=source,
    )


def parse_s3(raw: Any, p: Problems, env: Mapping[str, str], base: Path | None = None,
        inherited: Keys | None = None) -> S3Config:
    raw = _section(raw, "s3", "endpoint, region and bucket", p)
    if raw is None:
        return S3Config("", "", "", None)
    endpoint = _endpoint(raw, p, "s3", "https://s3.eu-west-1.amazonaws.com")
    bucket = p.get_or(raw, "s3.", "bucket", text, "")
    if raw.get("bucket") is None:
        p.errors.append("s3.bucket: missing: the bucket's name (e.g. my-bucket)")
    elif bucket and not _S3_BUCKET.match(bucket):
        p.errors.append(f"s3.bucket: {shown(bucket)} is not a valid bucket name "
                        "(3-63 lower-case letters, digits, dots and hyphens)")
    host = urlsplit(endpoint).hostname or ""
    by_ip = is_ip_or_localhost(host)
    addressing = p.choice(raw, "s3.", "addressing", "path" if by_ip else "virtual")
    if addressing == "virtual" and by_ip:
        p.errors.append("s3.addressing: virtual needs a host name (bucket.host) in "
                        "s3.endpoint; use path with an IP address or localhost")
    elif addressing == "virtual":
        _names_bucket(endpoint, bucket, "s3", p)
    method = p.choice(raw, "s3.", "method")
    store = next((n for end, n in _NO_POST_STORES.items() if host.endswith(end)), None)
    if method == "post" and store:
        p.errors.append(f"s3.method: {store} takes no SigV4 POST uploads (s3.endpoint is "
                        f"{host}); set method: put")
    expires = p.duration(raw, "s3.", "policy_expires",
                         why="the longest S3 accepts for a signed form is 7d")
    creds, source = inherited or _credentials(raw, p, env, base or Path.cwd(), S3)
    region = p.get_or(raw, "s3.", "region", text, "") or _aws_region(host) or "us-east-1"
    p.settings["s3.region"] = region
    return S3Config(
        endpoint=endpoint, bucket=bucket, credentials=creds, addressing=addressing,
        region=region, method=method, if_none_match=p.flag(raw, "s3.", "if_none_match"),
        public_url=p.optional(raw, "s3.", "public_url", url), policy_expires=expires,
        connect_timeout=p.duration(raw, "s3.", "connect_timeout"),
        read_timeout=p.duration(raw, "s3.", "read_timeout"),
        credential_source=source,
    )


def _aws_region(host: str) -> str | None:
    """`s3.eu-west-1.amazonaws.com` or `s3-eu-west-1.amazonaws.com` → `eu-west-1`."""
    match = re.match(r"^(?:.+\.)?s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$", host)
    return match.group(1) if match else None


def parse_local(raw: Any, p: Problems, base: Path) -> LocalConfig:
    raw = _section(raw, "local", "path (the folder objects are copied into)", p)
    if raw is None:
        return LocalConfig(base)
    if raw.get("path") is None:
        p.errors.append("local.path: missing (the folder objects are copied into)")
    folder = p.get_or(raw, "local.", "path", lambda v: local_path(base, v), base)
    try:
        if p.flag(raw, "local.", "create"):
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.is_dir():
            p.errors.append(f"local.path: {shown_path(folder)} is not a directory (create "
                            "it, or set create: true)")
        elif not os.access(folder, os.W_OK | os.X_OK):
            p.errors.append(f"local.path: {shown_path(folder)} is not writable by this user")
    except OSError as exc:
        p.errors.append(f"local.path: {shown_path(folder)}: {exc.strerror or exc}")
    return LocalConfig(path=folder, base_url=p.optional(raw, "local.", "base_url", url))
