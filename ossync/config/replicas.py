"""`replicas:`: destinations besides the primary, each with one target section read as the
primary's is (`ossync.config.stores`), its key templates, workers, bandwidth share and
object options.

A replica's section is parsed by the very parsers of the top-level sections, with a
collector of its own whose problems and settings are then filed under the replica's path
(`replicas[1].s3.bucket: missing`). Keys come from the section as the primary's do; a
replica of the same kind as the primary that names no credentials of its own uses the
primary's (a second bucket in the same account needs none).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ossync.config.checks import schedule_of, shown, template, whole_of
from ossync.config.credential_sources import OSS, S3, SOURCE_KEYS
from ossync.config.objects import ObjectSettings, parse_objects
from ossync.config.offline import check_templates
from ossync.config.problems import Problems
from ossync.config.schema import spec
from ossync.config.stores import (
    Keys,
    LocalConfig,
    OneTarget,
    OssConfig,
    S3Config,
    parse_local,
    parse_oss,
    parse_s3,
)
from ossync.config.watch import WatchConfig, host_name
from ossync.core.throttle import BandwidthSchedule

PRIMARY = "primary"  # what outputs call the primary destination; no replica may be called so
KINDS = ("oss", "s3", "local")


@dataclass(frozen=True)
class ReplicaConfig(OneTarget):
    name: str
    oss: OssConfig | None = None  # exactly one of oss, s3 and local is set
    s3: S3Config | None = None
    local: LocalConfig | None = None
    prefix: str | None = None  # None: each folder's (the primary's key)
    key_name: str | None = None  # None: each folder's name template
    workers: int = 4
    max_bandwidth: BandwidthSchedule | None = None  # its share of the host's; None: no own cap
    objects: ObjectSettings = field(default_factory=ObjectSettings)

    @property
    def where(self) -> str:
        """How a log line names it: `replica nas`."""
        return f"replica {self.name}"


@dataclass(frozen=True)
class Primary:
    """What a replica may take from the top level."""

    kind: str  # oss, s3 or local
    section: OssConfig | S3Config | LocalConfig | None
    objects: ObjectSettings
    workers: int
    prefix: str
    name: str
    host: str


def parse_replicas(raw: Mapping[Any, Any], p: Problems, env: Mapping[str, str], base: Path,
                   primary: Primary) -> tuple[ReplicaConfig, ...]:
    entries = raw.get("replicas") or []
    if not isinstance(entries, list):
        p.errors.append(f"replicas: must be a list of destinations (- name: ...), not "
                        f"{shown(entries)}")
        return ()
    found = [r for i, entry in enumerate(entries)
             if (r := _replica(entry, i, p, env, base, primary)) is not None]
    names = [r.name for r in found]
    for name in sorted({n for n in names if names.count(n) > 1}):
        p.errors.append(f"replicas: the name {name!r} is used twice; give each its own")
    places = [(PRIMARY, _place(primary.kind, primary.section))] + [
        (r.name, _place(r.target_name, r.target)) for r in found]
    for i, replica in enumerate(found):
        same = [n for n, place in places[:i + 1] if place == places[i + 1][1]]
        if same:
            whose = "the primary's" if same[0] == PRIMARY else f"replica {same[0]!r}'s"
            p.errors.append(f"replicas[{i}].{replica.target_name}: the same "
                            f"{'folder' if replica.local else 'bucket'} as {whose}; a "
                            "replica is another place")
    return tuple(found)


def _replica(raw: Any, i: int, p: Problems, env: Mapping[str, str], base: Path,
             primary: Primary) -> ReplicaConfig | None:
    where = f"replicas[{i}]."
    if not isinstance(raw, dict):
        p.errors.append(f"replicas[{i}]: must be a mapping with a name and one of oss:, s3: "
                        f"and local:, not {shown(raw)}")
        return None
    p.unknown(raw, "replicas", where)
    name = p.get_or(raw, where, "name", host_name, "")
    if "name" not in raw:
        p.errors.append(f"{where}name: missing (a name for this replica, e.g. nas)")
    elif name == PRIMARY:
        p.errors.append(f"{where}name: {PRIMARY!r} names the primary; choose another")
    present = [kind for kind in KINDS if raw.get(kind) is not None]
    if len(present) != 1:
        p.errors.append(f"{where}{', '.join(present) or 'oss'}: configure exactly one of "
                        "oss:, s3: and local: for the replica")
    kind = present[0] if present else "oss"
    section = _section(raw.get(kind), kind, where, p, env, base, primary)
    prefix = p.optional(raw, where, "prefix", template)
    key_name = p.optional(raw, where, "key_name", template)
    inherited = primary.objects if kind == primary.kind else ObjectSettings()
    return ReplicaConfig(
        name=name, prefix=prefix, key_name=key_name,
        oss=section if isinstance(section, OssConfig) else None,
        s3=section if isinstance(section, S3Config) else None,
        local=section if isinstance(section, LocalConfig) else None,
        workers=p.get_or(raw, where, "workers", whole_of(spec("replicas[].workers")),
                         primary.workers),
        max_bandwidth=p.optional(raw, where, "max_bandwidth",
                                 schedule_of(spec("replicas[].max_bandwidth"))),
        objects=parse_objects(raw, where, p, inherited, kind),
    )


def _section(raw: Any, kind: str, where: str, p: Problems, env: Mapping[str, str],
             base: Path, primary: Primary) -> OssConfig | S3Config | LocalConfig:
    """The replica's target section, read by the top-level parser into a collector of its
    own, whose problems, warnings and settings are filed under `where`."""
    own = Problems(env)
    own.strict = p.strict
    if kind == "local":
        section: OssConfig | S3Config | LocalConfig = parse_local(raw, own, base)
    elif kind == "s3":
        section = parse_s3(raw, own, env, base, _keys_of(raw, kind, primary))
    else:
        section = parse_oss(raw, own, env, base, _keys_of(raw, kind, primary))
    p.errors += [f"{where}{problem}" for problem in own.errors]
    p.warnings += [f"{where}{warning}" for warning in own.warnings]
    p.settings.update((f"{where}{path}", value) for path, value in own.settings.items())
    return section


def _keys_of(raw: Any, kind: str, primary: Primary) -> Keys | None:
    """The primary's keys, for a replica of its kind that names no credentials of its own;
    None: the replica's section resolves its own."""
    section = primary.section
    if kind != primary.kind or not isinstance(section, (OssConfig, S3Config)):
        return None
    dialect = OSS if kind == "oss" else S3
    if isinstance(raw, dict) and any(raw.get(k) is not None for k in (
            *dialect.keys, *SOURCE_KEYS, dialect.role_key)):
        return None
    return section.credentials, section.credential_source


def check_replica_keys(p: Problems, replicas: tuple[ReplicaConfig, ...],
                       folders: list[WatchConfig], host: str) -> None:
    """A replica's own templates, with each folder that copies to it (its label, and its
    templates where the replica names none): one problem per replica at most."""
    for i, replica in enumerate(replicas):
        if replica.prefix is None and replica.key_name is None:
            continue
        for folder in folders:
            if replica.name not in folder.replicas:
                continue
            before = len(p.errors)
            check_templates(p, f"replicas[{i}].", replica.prefix or folder.prefix,
                            replica.key_name or folder.name, host, folder.label, "key_name")
            if len(p.errors) > before:
                break


def _place(kind: str, section: OssConfig | S3Config | LocalConfig | None) -> tuple[str, ...]:
    """Where a destination's objects land: two destinations must not share one."""
    if isinstance(section, LocalConfig):
        return ("local", str(section.path))
    if section is None:
        return (kind,)
    return (kind, section.endpoint.rstrip("/"), section.bucket)
