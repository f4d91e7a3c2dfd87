"""Config: YAML → defaults → `${VAR}` expansion → validation of every field → frozen dataclasses.

Validation collects *all* problems with their field paths (`watch[1].path: does
not exist`) so a user fixes the file in one pass. Secrets are resolved here and
never appear in a problem text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ossync.config.checks import (
    _boolean,
    _choice,
    _globs,
    _local_path,
    _positive_int,
    _Problems,
    _template,
)
from ossync.config.http import HttpConfig, parse_http
from ossync.config.stores import (
    LocalConfig,
    OssConfig,
    S3Config,
    _local,
    _oss,
    _s3,
)
from ossync.config.transfer import parse_transfer
from ossync.core.credentials import Credentials
from ossync.core.errors import ConfigError
from ossync.core.host import default_host
from ossync.core.keys import DEFAULT_NAME, DEFAULT_PREFIX
from ossync.core.limits import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_CONCURRENCY,
    OSS_MAX_OBJECT,
)
from ossync.core.throttle import BandwidthSchedule
from ossync.core.units import parse_duration
from ossync.credentials import Source

IMAGE_EXTENSIONS = (
    "jpg", "jpeg", "png", "gif", "webp", "heic", "heif", "tif", "tiff", "bmp", "avif",
    "dng", "cr2", "cr3", "nef", "arw", "orf", "rw2", "raf",
)
DEFAULT_INCLUDE = tuple(f"*.{ext}" for ext in IMAGE_EXTENSIONS)
DEFAULT_EXCLUDE = (
    ".*", "*~", "*.tmp", "*.temp", "*.part", "*.partial", "*.filepart", "*.crdownload",
    "*.download", "*.!ut", "~$*", "*.swp", "Thumbs.db", "desktop.ini",
)
TARGETS = ("oss", "s3", "local")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_HOST_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


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
    group: str | None = None  # hosts that mount the same share at the same path
    strip_metadata: str = "none"  # one of STRIP_LEVELS: what is removed before sending


@dataclass(frozen=True)
class Config:
    oss: OssConfig | None  # exactly one of oss, s3 and local is set
    ledger: Path | str  # a SQLite file, or a postgresql:// URL
    watch: tuple[WatchConfig, ...] = ()
    prefix: str = DEFAULT_PREFIX
    name: str = DEFAULT_NAME
    date_source: str = "exif"
    timezone: str = "local"
    workers: int = 4
    scan_interval: float = 300.0
    max_file_size: int = OSS_MAX_OBJECT
    retry_initial_delay: float = 2.0
    retry_max_delay: float = 600.0
    source: Path | None = None
    warnings: tuple[str, ...] = ()
    s3: S3Config | None = None
    local: LocalConfig | None = None
    host: str = field(default_factory=default_host)
    http: HttpConfig | None = None  # the optional listener (metrics, API, status page)
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD  # from here on, files go in parts
    part_size: int | None = None  # None: automatic (8 MiB, more for huge files)
    part_concurrency: int = DEFAULT_PART_CONCURRENCY  # parts of one file in flight at once
    max_bandwidth: BandwidthSchedule | None = None  # None: no cap

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

    @property
    def restart_settings(self) -> tuple[object, ...]:
        """What a running daemon cannot change on SIGHUP (they apply at restart)."""
        return (self.target, self.workers, self.ledger, self.http, self.multipart_threshold,
                self.part_size, self.part_concurrency)

    @property
    def http_timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts of the target's requests (a local copy has none)."""
        target = self.target
        if isinstance(target, LocalConfig):
            return (10.0, 60.0)
        return (target.connect_timeout, target.read_timeout)


KNOWN_TOP = {"oss", "s3", "local", "ledger", "host", "watch", "prefix", "name", "date_source",
             "timezone", "workers", "scan_interval", "max_file_size", "settle_seconds",
             "retry_initial_delay", "retry_max_delay", "http", "multipart_threshold",
             "part_size", "part_concurrency", "max_bandwidth"}
KNOWN_WATCH = {"path", "label", "prefix", "name", "recursive", "include", "exclude",
               "settle_seconds", "dedupe", "date_source", "after_upload", "move_to",
               "observer", "poll_interval", "create", "group", "strip_metadata"}
# What `watch[].strip_metadata` removes before sending: nothing, the location, the location
# and owner/device identity, or all metadata but orientation and colour profile.
STRIP_LEVELS = ("none", "location", "private", "all")


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
    elif after == "move" and move_to is not None and move_to.is_relative_to(folder):
        p.errors.append(f"{path}move_to: {move_to} is inside the watched folder; "
                        "choose a folder outside it")
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
        group=p.get(raw, path, "group", None, _host_name),
        strip_metadata=p.get(raw, path, "strip_metadata", "none", _choice(*STRIP_LEVELS)),
    )


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
    oss = _oss(raw.get("oss"), p, env, base) if chosen == "oss" else None
    s3 = _s3(raw["s3"], p, env, base) if chosen == "s3" else None
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
    fallback: Path | str = default_ledger_path(env)
    ledger = p.get(raw, "", "ledger", fallback, lambda v: ledger_location(base, v))
    transfer = parse_transfer(raw, p, chosen)
    config = Config(
        oss=oss, ledger=ledger, watch=tuple(folders),
        prefix=str(defaults["prefix"]), name=str(defaults["name"]),
        date_source=str(defaults["date_source"]),
        timezone=p.get(raw, "", "timezone", "local", _timezone),
        workers=p.get(raw, "", "workers", 4, _positive_int),
        scan_interval=p.get(raw, "", "scan_interval", 300.0, parse_duration),
        max_file_size=transfer.max_file_size,
        multipart_threshold=transfer.multipart_threshold, part_size=transfer.part_size,
        part_concurrency=transfer.part_concurrency, max_bandwidth=transfer.max_bandwidth,
        retry_initial_delay=p.get(raw, "", "retry_initial_delay", 2.0, parse_duration),
        retry_max_delay=p.get(raw, "", "retry_max_delay", 600.0, parse_duration),
        source=source, warnings=tuple(p.warnings), s3=s3, local=local,
        host=p.get(raw, "", "host", default_host(), _host_name),
        http=parse_http(raw.get("http"), p, env, base),
    )
    if p.errors:
        raise ConfigError(p.errors, str(source or "config"))
    return config


def ledger_location(base: Path, value: Any) -> Path | str:
    """A `postgresql://` URL as it is; anything else a file path (relative to the config)."""
    text = str(value)
    if text.startswith(POSTGRES_SCHEMES):
        return text
    if "://" in text and not text.startswith("sqlite://"):
        raise ValueError("must be a file path or a postgresql:// URL")
    return _local_path(base, text.removeprefix("sqlite://"))


def _host_name(value: Any) -> str:
    text = str(value)
    if not _HOST_NAME.match(text):
        raise ValueError("must be a name of letters, digits, '.', '_' and '-' "
                         "(at most 253), starting with a letter or digit")
    return text


def _timezone(value: Any) -> str:
    from ossync.core.clock import zone

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


@dataclass(frozen=True)
class LedgerSettings:
    """Where the ledger is and whose rows are ours: all a read-only command needs."""

    location: Path | str
    host: str


def ledger_from_config(path: Path, env: Mapping[str, str] | None = None) -> LedgerSettings:
    """Just `ledger:` and `host:` of a config file, for commands that need no credentials."""
    env = dict(os.environ if env is None else env)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc} (or name the ledger "
                           "with --ledger PATH)"], str(path)) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"not valid YAML: {exc}"], str(path)) from exc
    raw = raw if isinstance(raw, dict) else {}
    p = _Problems(env)
    fallback: Path | str = default_ledger_path(env)
    location = p.get(raw, "", "ledger", fallback,
                     lambda v: ledger_location(path.resolve().parent, v))
    host = p.get(raw, "", "host", default_host(), _host_name)
    if p.errors:
        raise ConfigError(p.errors, str(path))
    return LedgerSettings(location, host)


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
