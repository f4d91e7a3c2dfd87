"""Config: YAML → defaults → `${VAR}` expansion → validation of every field → frozen dataclasses.

Validation collects *all* problems with their field paths (`watch[1].path: does
not exist`) so a user fixes the file in one pass. Secrets are resolved here and
never appear in a problem text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import yaml

from ossync.addressing import is_ip_or_localhost
from ossync.credentials import resolve_credentials
from ossync.errors import ConfigError
from ossync.keys import DEFAULT_NAME, DEFAULT_PREFIX, template_problem
from ossync.signing import MAX_POLICY_LIFETIME, Credentials
from ossync.units import format_duration, parse_duration, parse_size

POSTOBJECT_MAX_BYTES = 5 * 1024**3
IMAGE_EXTENSIONS = (
    "jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "tif", "tiff", "bmp", "avif",
    "dng", "cr2", "cr3", "nef", "arw", "orf", "rw2", "raf",
)
DEFAULT_INCLUDE = tuple(f"*.{ext}" for ext in IMAGE_EXTENSIONS)
DEFAULT_EXCLUDE = (
    ".*", "*~", "*.tmp", "*.temp", "*.part", "*.partial", "*.filepart", "*.crdownload",
    "*.download", "*.!ut", "~$*", "*.swp", "Thumbs.db", "desktop.ini",
)
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
TARGETS = ("oss", "s3", "local")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_T = TypeVar("_T")


@dataclass(frozen=True)
class OssConfig:
    endpoint: str
    region: str
    bucket: str
    credentials: Credentials = field(repr=False)
    signature_version: int = 4
    public_url: str | None = None
    cname: bool = False
    policy_expires: float = 900.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    url_mode: str = "signed"  # what url/ls/show print: `public` (as recorded) or `signed`
    url_expires: float = 3600.0


@dataclass(frozen=True)
class S3Config:
    endpoint: str
    region: str
    bucket: str
    credentials: Credentials = field(repr=False)
    addressing: str = "virtual"  # `virtual` (bucket.host) or `path` (host/bucket)
    method: str = "post"  # `post` (SigV4 form) or `put` (SigV4 header-signed PutObject)
    if_none_match: bool = True  # PUT with If-None-Match: *; false: HEAD before each PUT
    public_url: str | None = None
    policy_expires: float = 900.0
    connect_timeout: float = 10.0
    read_timeout: float = 60.0


@dataclass(frozen=True)
class LocalConfig:
    path: Path
    base_url: str | None = None


@dataclass(frozen=True)
class WatchConfig:
    path: Path
    label: str
    prefix: str = DEFAULT_PREFIX
    name: str = DEFAULT_NAME
    recursive: bool = True
    include: tuple[str, ...] = DEFAULT_INCLUDE
    exclude: tuple[str, ...] = DEFAULT_EXCLUDE
    settle_seconds: float = 2.0
    dedupe: str = "content"
    date_source: str = "exif"
    after_upload: str = "keep"
    move_to: Path | None = None
    observer: str = "native"
    poll_interval: float = 5.0


@dataclass(frozen=True)
class Config:
    oss: OssConfig | None  # exactly one of oss, s3 and local is set
    ledger: Path
    watch: tuple[WatchConfig, ...] = ()
    prefix: str = DEFAULT_PREFIX
    name: str = DEFAULT_NAME
    date_source: str = "exif"
    timezone: str = "local"
    workers: int = 4
    scan_interval: float = 300.0
    max_file_size: int = POSTOBJECT_MAX_BYTES
    retry_initial_delay: float = 2.0
    retry_max_delay: float = 600.0
    source: Path | None = None
    warnings: tuple[str, ...] = ()
    s3: S3Config | None = None
    local: LocalConfig | None = None

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
    def http_timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts of the target's requests (a local copy has none)."""
        target = self.target
        if isinstance(target, LocalConfig):
            return (10.0, 60.0)
        return (target.connect_timeout, target.read_timeout)


KNOWN_TOP = {"oss", "s3", "local", "ledger", "watch", "prefix", "name", "date_source", "timezone",
             "workers", "scan_interval", "max_file_size", "settle_seconds",
             "retry_initial_delay", "retry_max_delay"}
KNOWN_OSS = {"endpoint", "region", "bucket", "signature_version", "public_url", "cname",
             "access_key_id", "access_key_secret", "security_token", "policy_expires",
             "connect_timeout", "read_timeout", "url_mode", "url_expires"}
KNOWN_S3 = {"endpoint", "region", "bucket", "addressing", "method", "if_none_match",
            "public_url", "access_key_id", "secret_access_key", "session_token",
            "policy_expires", "connect_timeout", "read_timeout"}
KNOWN_LOCAL = {"path", "base_url", "create"}
KNOWN_WATCH = {"path", "label", "prefix", "name", "recursive", "include", "exclude",
               "settle_seconds", "dedupe", "date_source", "after_upload", "move_to",
               "observer", "poll_interval", "create"}


class _Problems:
    """Collects `path: reason` lines while the config is read."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.env = env

    def get(self, raw: Mapping[str, Any], path: str, name: str, default: _T,
            convert: Callable[[Any], _T]) -> _T:
        if name not in raw or raw[name] is None:
            return default
        try:
            return convert(self.expand(raw[name], f"{path}{name}"))
        except (ValueError, TypeError) as exc:
            self.errors.append(f"{path}{name}: {exc}")
            return default

    def expand(self, value: Any, where: str) -> Any:
        if not isinstance(value, str):
            return value

        def sub(match: re.Match[str]) -> str:
            if match.group(1) not in self.env:
                raise ValueError(f"environment variable {match.group(1)} is not set")
            return self.env[match.group(1)]

        return _VAR.sub(sub, value)

    def unknown(self, raw: Mapping[str, Any], known: set[str], path: str) -> None:
        for name in sorted(set(raw) - known):
            self.warnings.append(f"{path}{name}: unknown key, ignored")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}, not {value!r}")
        return str(value)
    return convert


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"must be true or false, not {value!r}")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"must be a whole number of at least 1, not {value!r}")
    return value


def _globs(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("must be a list of glob patterns")
    return tuple(value)


def _template(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    problem = template_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _url(value: Any) -> str:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{value!r} is not an http(s) URL (e.g. https://oss-cn-hangzhou.aliyuncs.com)")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"{value!r}: {exc}") from exc
    return str(value).rstrip("/")


def region_from_endpoint(endpoint: str) -> str | None:
    """`https://oss-cn-hangzhou[-internal].aliyuncs.com` → `cn-hangzhou`."""
    host = urlsplit(endpoint).hostname or ""
    match = re.match(r"^oss-([a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$", host)
    return match.group(1) if match else None


def _oss(raw: Any, p: _Problems, env: Mapping[str, str]) -> OssConfig:
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
    configured = {k: p.get(raw, "oss.", k, None, str)
                  for k in ("access_key_id", "access_key_secret", "security_token")}
    creds = resolve_credentials(configured, env)
    if creds is None:
        p.errors.append(
            "oss credentials: none found; set OSS_ACCESS_KEY_ID and OSS_ACCESS_KEY_SECRET "
            "(and OSS_SESSION_TOKEN for STS), or oss.access_key_id / oss.access_key_secret, "
            "or files oss_access_key_id / oss_access_key_secret in $CREDENTIALS_DIRECTORY")
        creds = Credentials("", "")
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
        url_mode=url_mode, url_expires=url_expires,
    )


S3_ENV = {"access_key_id": "AWS_ACCESS_KEY_ID", "secret_access_key": "AWS_SECRET_ACCESS_KEY",
          "session_token": "AWS_SESSION_TOKEN"}
_NO_POST_STORES = {".r2.cloudflarestorage.com": "Cloudflare R2", ".myqcloud.com": "Tencent COS"}


def _s3(raw: Any, p: _Problems, env: Mapping[str, str]) -> S3Config:
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
    configured = {k: p.get(raw, "s3.", k, None, str) for k in S3_ENV}
    creds = _s3_credentials(configured, env)
    if creds is None:
        p.errors.append(
            "s3 credentials: none found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(and AWS_SESSION_TOKEN for temporary keys), or s3.access_key_id / "
            "s3.secret_access_key, or files aws_access_key_id / aws_secret_access_key in "
            "$CREDENTIALS_DIRECTORY")
        creds = Credentials("", "")
    return S3Config(
        endpoint=endpoint, bucket=bucket, credentials=creds, addressing=addressing,
        region=p.get(raw, "s3.", "region", "", str) or _aws_region(host) or "us-east-1",
        method=method, if_none_match=p.get(raw, "s3.", "if_none_match", True, _boolean),
        public_url=p.get(raw, "s3.", "public_url", None, _url), policy_expires=expires,
        connect_timeout=p.get(raw, "s3.", "connect_timeout", 10.0, parse_duration),
        read_timeout=p.get(raw, "s3.", "read_timeout", 60.0, parse_duration),
    )


def _aws_region(host: str) -> str | None:
    """`s3.eu-west-1.amazonaws.com` or `s3-eu-west-1.amazonaws.com` → `eu-west-1`."""
    match = re.match(r"^(?:.+\.)?s3[.-](?:dualstack\.)?([a-z0-9-]+)\.amazonaws\.com$", host)
    return match.group(1) if match else None


def _s3_credentials(configured: Mapping[str, str | None],
                    env: Mapping[str, str]) -> Credentials | None:
    """The config's keys, else files aws_access_key_id, aws_secret_access_key and
    aws_session_token in $CREDENTIALS_DIRECTORY, else the AWS_* variables."""
    sources: list[Mapping[str, str | None]] = [configured]
    if env.get("CREDENTIALS_DIRECTORY"):
        folder = Path(env["CREDENTIALS_DIRECTORY"])
        from_dir = {name: _read_secret(folder / f"aws_{name}") for name in S3_ENV}
        from_dir["access_key_id"] = from_dir["access_key_id"] or env.get("AWS_ACCESS_KEY_ID")
        sources.append(from_dir)
    sources.append({name: env.get(var) for name, var in S3_ENV.items()})
    for values in sources:
        key_id, secret = values.get("access_key_id"), values.get("secret_access_key")
        if key_id and secret:
            return Credentials(key_id, secret, values.get("session_token") or None)
    return None


def _read_secret(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


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


def _choice_int(*allowed: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if value not in allowed or isinstance(value, bool):
            raise ValueError(f"must be one of {', '.join(map(str, allowed))}, not {value!r}")
        return int(value)
    return convert


def _watch(
    raw: Any, i: int, p: _Problems, base: Path, defaults: dict[str, Any]
) -> WatchConfig | None:
    path = f"watch[{i}]."
    if not isinstance(raw, dict) or "path" not in raw:
        p.errors.append(f"watch[{i}]: must be a mapping with at least a path")
        return None
    p.unknown(raw, KNOWN_WATCH, path)
    folder = _local_path(base, p.expand(raw["path"], path + "path"))
    if p.get(raw, path, "create", False, _boolean):
        folder.mkdir(parents=True, exist_ok=True)
    if not folder.exists():
        p.errors.append(f"{path}path: {folder} does not exist (create it, or set create: true)")
    elif not folder.is_dir():
        p.errors.append(f"{path}path: {folder} is not a directory")
    elif not os.access(folder, os.R_OK | os.X_OK):
        p.errors.append(f"{path}path: {folder} is not readable by this user")
    after = p.get(raw, path, "after_upload", "keep", _choice("keep", "delete", "move"))
    move_to = p.get(raw, path, "move_to", None, lambda v: _local_path(base, v))
    if after == "move" and move_to is None:
        p.errors.append(f"{path}move_to: required when after_upload is move")
    return WatchConfig(
        path=folder, label=p.get(raw, path, "label", folder.name or str(folder), str),
        prefix=p.get(raw, path, "prefix", defaults["prefix"], _template),
        name=p.get(raw, path, "name", defaults["name"], _template),
        recursive=p.get(raw, path, "recursive", True, _boolean),
        include=p.get(raw, path, "include", DEFAULT_INCLUDE, _globs),
        exclude=p.get(raw, path, "exclude", DEFAULT_EXCLUDE, _globs),
        settle_seconds=p.get(raw, path, "settle_seconds", defaults["settle_seconds"],
                             parse_duration),
        dedupe=p.get(raw, path, "dedupe", "content", _choice("content", "path", "off")),
        date_source=p.get(raw, path, "date_source", defaults["date_source"],
                          _choice("exif", "mtime", "upload")),
        after_upload=after, move_to=move_to,
        observer=p.get(raw, path, "observer", "native", _choice("native", "polling")),
        poll_interval=p.get(raw, path, "poll_interval", 5.0, parse_duration),
    )


def _local_path(base: Path, value: object) -> Path:
    """Absolute and normalised (`~` expanded, `..` folded), relative to the config's folder.

    Paths in the ledger are compared as text, so `/srv/drop/../drop/x.jpg` must never
    be stored for `/srv/drop/x.jpg`. Symlinks are kept as written.
    """
    return Path(os.path.abspath(base / os.path.expanduser(str(value))))


def default_ledger_path(env: Mapping[str, str]) -> Path:
    """Under systemd `$STATE_DIRECTORY/ledger.db`, else the XDG state directory."""
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0]) / "ledger.db"
    state = env.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "ossync" / "ledger.db"


def parse_config(raw: Any, *, base: Path, env: Mapping[str, str] | None = None,
                 source: Path | None = None) -> Config:
    """Validate an already-loaded YAML document; raise ConfigError with every problem."""
    env = dict(os.environ if env is None else env)
    p = _Problems(env)
    if not isinstance(raw, dict):
        raise ConfigError(["top level: must be a mapping of keys (oss:, ledger:, watch:)"],
                          str(source or "config"))
    p.unknown(raw, KNOWN_TOP, "")
    present = [name for name in TARGETS if raw.get(name) is not None]
    if len(present) > 1:
        p.errors.append(f"{', '.join(present)}: configure exactly one target "
                        "(oss:, s3: or local:)")
    chosen = present[0] if present else "oss"
    oss = _oss(raw.get("oss"), p, env) if chosen == "oss" else None
    s3 = _s3(raw["s3"], p, env) if chosen == "s3" else None
    local = _local(raw["local"], p, base) if chosen == "local" else None
    defaults: dict[str, Any] = {
        "prefix": p.get(raw, "", "prefix", DEFAULT_PREFIX, _template),
        "name": p.get(raw, "", "name", DEFAULT_NAME, _template),
        "date_source": p.get(raw, "", "date_source", "exif", _choice("exif", "mtime", "upload")),
        "settle_seconds": p.get(raw, "", "settle_seconds", 2.0, parse_duration),
    }
    watches = raw.get("watch") or []
    if not isinstance(watches, list):
        p.errors.append("watch: must be a list of folders (- path: ...)")
        watches = []
    parsed = [_watch(w, i, p, base, defaults) for i, w in enumerate(watches)]
    folders = [w for w in parsed if w is not None]
    labels = [w.label for w in folders]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        p.errors.append(f"watch: label {label!r} is used twice (set label: on each folder)")
    ledger = p.get(raw, "", "ledger", default_ledger_path(env),
                   lambda v: _local_path(base, v))
    max_size = p.get(raw, "", "max_file_size", POSTOBJECT_MAX_BYTES, parse_size)
    if max_size > POSTOBJECT_MAX_BYTES and local is None:
        p.errors.append(f"max_file_size: one upload is capped at 5GiB by "
                        f"{'S3' if s3 else 'OSS'} (POST and single PUT alike)")
    config = Config(
        oss=oss, ledger=ledger, watch=tuple(folders),
        prefix=str(defaults["prefix"]), name=str(defaults["name"]),
        date_source=str(defaults["date_source"]),
        timezone=p.get(raw, "", "timezone", "local", _timezone),
        workers=p.get(raw, "", "workers", 4, _positive_int),
        scan_interval=p.get(raw, "", "scan_interval", 300.0, parse_duration),
        max_file_size=max_size,
        retry_initial_delay=p.get(raw, "", "retry_initial_delay", 2.0, parse_duration),
        retry_max_delay=p.get(raw, "", "retry_max_delay", 600.0, parse_duration),
        source=source, warnings=tuple(p.warnings), s3=s3, local=local,
    )
    if p.errors:
        raise ConfigError(p.errors, str(source or "config"))
    return config


def _timezone(value: Any) -> str:
    from ossync.clock import zone

    zone(str(value))
    return str(value)


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; relative paths are relative to its folder."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], str(path)) from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError([f"not valid YAML: {where}{reason}"], str(path)) from exc
    return parse_config(raw, base=path.resolve().parent, env=env, source=path)


def ledger_path_from_config(path: Path, env: Mapping[str, str] | None = None) -> Path:
    """Just the `ledger:` of a config file, for read-only commands that need no credentials."""
    env = dict(os.environ if env is None else env)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc} (or name the ledger "
                           "with --ledger PATH)"], str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], str(path)) from exc
    value = raw.get("ledger") if isinstance(raw, dict) else None
    if not value:
        return default_ledger_path(env)
    try:
        expanded = _Problems(env).expand(str(value), "ledger")
    except ValueError as exc:
        raise ConfigError([f"ledger: {exc}"], str(path)) from exc
    return path.resolve().parent / Path(os.path.expanduser(expanded))


def url_mode_from_config(path: Path) -> str | None:
    """Just `oss.url_mode` (default: `public` with a `public_url`, else `signed`), read
    without credentials; None when there is no readable config to read it from."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    oss = raw.get("oss") if isinstance(raw, dict) else None
    if not isinstance(oss, dict):
        return None
    mode = oss.get("url_mode") or ("public" if oss.get("public_url") else "signed")
    return str(mode)
