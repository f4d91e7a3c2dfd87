"""Config: YAML → defaults → `${VAR}` expansion → validation of every field → frozen dataclasses.

Validation collects *all* problems with their field paths (`watch[1].path: does
not exist`) so a user fixes the file in one pass. Secrets are resolved here and
never appear in a problem text. Every key, its default, bounds and reload class is in
the schema (`ossync.config.schema`); a key it does not list is an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ossync.config.checks import local_path, shown, template, text
from ossync.config.document import read_document
from ossync.config.events import (
    ON_UPLOAD,
    CommandHookConfig,
    HeartbeatConfig,
    WebhookConfig,
    parse_heartbeat,
    parse_on_upload,
    parse_webhooks,
)
from ossync.config.http import HttpConfig, parse_http
from ossync.config.key import RESTART, format_seconds
from ossync.config.keys_general import (
    DEFAULT_EXCLUDE,
    DEFAULT_INCLUDE,
    IMAGE_EXTENSIONS,
    STRIP_LEVELS,
)
from ossync.config.objects import ObjectSettings, parse_objects
from ossync.config.offline import check_templates
from ossync.config.problems import Problems
from ossync.config.replicas import (
    Primary,
    ReplicaConfig,
    check_replica_keys,
    parse_replicas,
)
from ossync.config.schema import reload_class
from ossync.config.stores import (
    LocalConfig,
    OneTarget,
    OssConfig,
    S3Config,
    parse_local,
    parse_oss,
    parse_s3,
)
from ossync.config.transfer import parse_transfer
from ossync.config.uploads import UploadsConfig, parse_uploads
from ossync.config.watch import WatchConfig, host_name, parse_watch
from ossync.core.errors import ConfigError
from ossync.core.host import default_host
from ossync.core.keys import DEFAULT_NAME, DEFAULT_PREFIX
from ossync.core.limits import (
    DEFAULT_MULTIPART_THRESHOLD,
    DEFAULT_PART_CONCURRENCY,
    OSS_MAX_OBJECT,
)
from ossync.core.throttle import BandwidthSchedule

__all__ = ["DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "IMAGE_EXTENSIONS", "STRIP_LEVELS",
           "CommandHookConfig", "Config", "HeartbeatConfig", "LedgerSettings", "ReplicaConfig",
           "WatchConfig", "WebhookConfig", "ledger_from_config", "load_config", "parse_config",
           "url_mode_from_config"]
TARGETS = ("oss", "s3", "local")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


@dataclass(frozen=True)
class Config(OneTarget):
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
    settle_seconds: float = 2.0  # what a folder without its own settle_seconds takes
    unknown_keys: str = "error"  # or `warn`
    objects: ObjectSettings = field(default_factory=ObjectSettings)  # the top level's
    webhooks: tuple[WebhookConfig, ...] = ()  # where every event is POSTed, signed
    on_upload: CommandHookConfig | None = None  # a command run for every upload
    heartbeat: HeartbeatConfig | None = None  # a URL fetched while healthy
    replicas: tuple[ReplicaConfig, ...] = ()  # destinations besides the primary
    uploads: UploadsConfig | None = None  # apps upload straight to the store (needs http)
    # Every key path read (`workers`, `oss.bucket`, `watch[0].prefix`) → its value as
    # used (a digest for secrets): what `reload_plan` compares.
    settings: Mapping[str, object] = field(default_factory=dict, compare=False, repr=False)

    @property
    def restart_settings(self) -> tuple[object, ...]:
        """What a running daemon cannot change on SIGHUP (they apply at restart): every
        setting of a `restart` key. `ossync.config.reload.reload_plan` names them."""
        return tuple((path, value) for path, value in sorted(self.settings.items())
                     if reload_class(path) == RESTART)

    @property
    def endpoints(self) -> tuple[str, ...]:
        """The delivery endpoints' names (each webhook's, and `on_upload`): bounded labels."""
        names = tuple(hook.name for hook in self.webhooks)
        return (*names, ON_UPLOAD) if self.on_upload is not None else names

    @property
    def http_timeouts(self) -> tuple[float, float]:
        """(connect, read) timeouts of the target's requests (a local copy has none)."""
        target = self.target
        if isinstance(target, LocalConfig):
            return (10.0, 60.0)
        return (target.connect_timeout, target.read_timeout)


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
    if not isinstance(raw, dict):
        raise ConfigError([f"top level: must be a mapping of keys (oss:, ledger:, watch:), "
                           f"not {shown(raw)}"], str(source or "config"))
    p = Problems(env)
    unknown_keys = p.choice(raw, "", "unknown_keys")
    p.strict = unknown_keys == "error"
    p.unknown(raw, "", "")
    present = [name for name in TARGETS if raw.get(name) is not None]
    if len(present) > 1:
        p.errors.append(f"{', '.join(present)}: configure exactly one target "
                        "(oss:, s3: or local:)")
    chosen = present[0] if present else "oss"
    oss = parse_oss(raw.get("oss"), p, env, base) if chosen == "oss" else None
    s3 = parse_s3(raw["s3"], p, env, base) if chosen == "s3" else None
    local = parse_local(raw["local"], p, base) if chosen == "local" else None
    host = p.get_or(raw, "", "host", host_name, default_host())
    defaults: dict[str, Any] = {
        "prefix": p.get(raw, "", "prefix", template),
        "name": p.get(raw, "", "name", template),
        "date_source": p.choice(raw, "", "date_source"),
        "settle_seconds": p.duration(raw, "", "settle_seconds"),
        "objects": parse_objects(raw, "", p, ObjectSettings(), chosen),
        "store": chosen,
    }
    check_templates(p, "", defaults["prefix"], defaults["name"], host, "")
    # (a replica's default workers: the top level's, whose problems are told in their place)
    replicas = parse_replicas(raw, p, env, base, Primary(
        chosen, oss or s3 or local, defaults["objects"], Problems(env).whole(raw, "", "workers"),
        defaults["prefix"], defaults["name"], host))
    defaults["replicas"] = tuple(r.name for r in replicas)
    folders = _watches(raw, p, base, defaults, host)
    check_replica_keys(p, replicas, folders, host)
    fallback: Path | str = default_ledger_path(env)
    ledger = p.get_or(raw, "", "ledger", partial(ledger_location, base), fallback)
    transfer = parse_transfer(raw, p, chosen)
    initial = p.duration(raw, "", "retry_initial_delay")
    longest = p.duration(raw, "", "retry_max_delay")
    if longest < initial:
        p.errors.append(f"retry_max_delay: {format_seconds(longest)} is shorter than "
                        f"retry_initial_delay ({format_seconds(initial)}); make it at least "
                        "as long")
    http = parse_http(raw.get("http"), p, env, base)
    timezone = p.get(raw, "", "timezone", _timezone)
    workers = p.whole(raw, "", "workers")
    scan_interval = p.duration(raw, "", "scan_interval")
    labels = frozenset(w.label for w in folders)
    uploads = parse_uploads(raw.get("uploads"), p, env, base, http=http, store=chosen,
                            endpoint=oss.endpoint if oss else "", host=host, labels=labels)
    webhooks = parse_webhooks(raw, p, env, base,
                              labels | ({uploads.folder} if uploads else set()))
    config = Config(
        oss=oss, ledger=ledger, watch=tuple(folders),
        prefix=str(defaults["prefix"]), name=str(defaults["name"]),
        date_source=str(defaults["date_source"]), timezone=timezone, workers=workers,
        scan_interval=scan_interval, max_file_size=transfer.max_file_size,
        multipart_threshold=transfer.multipart_threshold, part_size=transfer.part_size,
        part_concurrency=transfer.part_concurrency, max_bandwidth=transfer.max_bandwidth,
        retry_initial_delay=initial, retry_max_delay=longest, source=source, s3=s3,
        local=local, host=host, http=http, settle_seconds=float(defaults["settle_seconds"]),
        unknown_keys=unknown_keys, objects=defaults["objects"], webhooks=webhooks,
        on_upload=parse_on_upload(raw, p), heartbeat=parse_heartbeat(raw, p),
        replicas=replicas, uploads=uploads, warnings=tuple(p.warnings),
        settings=MappingProxyType(dict(p.settings)),
    )
    if p.errors:
        raise ConfigError(p.reported(), str(source or "config"))
    return config


def _watches(raw: dict[Any, Any], p: Problems, base: Path, defaults: dict[str, Any],
             host: str) -> list[WatchConfig]:
    """Every `watch:` folder; labels must differ, and a folder's own templates must work."""
    entries = raw.get("watch") or []
    if not isinstance(entries, list):
        p.errors.append(f"watch: must be a list of folders (- path: ...), not {shown(entries)}")
        entries = []
    folders: list[WatchConfig] = []
    for i, entry in enumerate(entries):
        folder = parse_watch(entry, i, p, base, defaults)
        if folder is None:
            continue
        folders.append(folder)
        if entry.get("prefix") is not None or entry.get("name") is not None:
            check_templates(p, f"watch[{i}].", folder.prefix, folder.name, host, folder.label)
    labels = [w.label for w in folders]
    for label in sorted({x for x in labels if labels.count(x) > 1}):
        p.errors.append(f"watch: label {label!r} is used twice (set label: on each folder)")
    return folders


def ledger_location(base: Path, value: Any) -> Path | str:
    """A `postgresql://` URL as it is; anything else a file path (relative to the config)."""
    location = text(value)
    if location.startswith(POSTGRES_SCHEMES):
        return location
    if "://" in location and not location.startswith("sqlite://"):
        raise ValueError("must be a file path or a postgresql:// URL")
    return local_path(base, location.removeprefix("sqlite://"))


def _timezone(value: Any) -> str:
    from ossync.core.clock import zone

    name = text(value)
    if len(name) > 64:
        raise ValueError("must be local, UTC or a zone name like Asia/Shanghai")
    zone(name)
    return name


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a YAML config file; relative paths are relative to its folder."""
    return parse_config(read_document(path), base=path.resolve().parent, env=env,
                        source=path)


@dataclass(frozen=True)
class LedgerSettings:
    """Where the ledger is and whose rows are ours: all a read-only command needs."""

    location: Path | str
    host: str


def _light_read(path: Path, env: Mapping[str, str] | None,
                hint: str = "") -> tuple[dict[Any, Any], Problems]:
    """The document of a config a command reads only a key or two of (no credentials, no
    folders checked): a mapping (an empty file is one), and a collector for its keys."""
    try:
        raw = read_document(path)
    except ConfigError as exc:
        if hint and exc.problems[0].startswith("cannot read the file"):
            raise ConfigError([f"{exc.problems[0]} ({hint})"], exc.source) from None
        raise
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"top level: must be a mapping of keys (oss:, ledger:, watch:), "
                           f"not {shown(raw)}"], str(path))
    return raw, Problems(dict(os.environ if env is None else env))


def ledger_from_config(path: Path, env: Mapping[str, str] | None = None) -> LedgerSettings:
    """Just `ledger:` and `host:` of a config file, for commands that need no credentials."""
    raw, p = _light_read(path, env, "or name the ledger with --ledger PATH")
    fallback: Path | str = default_ledger_path(p.env)
    location = p.get_or(raw, "", "ledger",
                        partial(ledger_location, path.resolve().parent), fallback)
    host = p.get_or(raw, "", "host", host_name, default_host())
    if p.errors:
        raise ConfigError(p.reported(), str(path))
    return LedgerSettings(location, host)


def url_mode_from_config(path: Path, env: Mapping[str, str] | None = None) -> str | None:
    """Just `oss.url_mode` (default: `public` with a `public_url`, else `signed`), read
    without credentials; None when the config has no oss: section."""
    raw, p = _light_read(path, env)
    oss = raw.get("oss")
    if oss is None:
        return None
    if not isinstance(oss, dict):
        raise ConfigError([f"oss: must be a mapping with endpoint, region and bucket, "
                           f"not {shown(oss)}"], str(path))
    public_url = p.optional(oss, "oss.", "public_url", text)
    mode = p.choice(oss, "oss.", "url_mode", "public" if public_url else "signed")
    if p.errors:
        raise ConfigError(p.reported(), str(path))
    return mode
