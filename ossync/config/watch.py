"""One `watch:` entry: a drop folder and how its files become uploads."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ossync.config.checks import globs, local_path, shown, shown_path, template, text
from ossync.config.keys_general import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from ossync.config.objects import ObjectSettings, parse_objects
from ossync.config.problems import Problems
from ossync.core.keys import DEFAULT_NAME, DEFAULT_PREFIX

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
    objects: ObjectSettings = field(default_factory=ObjectSettings)  # besides its bytes
    replicas: tuple[str, ...] = ()  # the replicas its files are copied to, by name

    def relpath(self, path: str) -> str:
        """The part of `path` (a file of this folder, as the ledger names it) under the
        folder: what key templates and `move_to` take."""
        return path[len(str(self.path).rstrip("/")) + 1:]


def host_name(value: Any) -> str:
    """`host:` and `watch[].group`: a name that is safe in a ledger row and a key."""
    name = text(value)
    if not _HOST_NAME.match(name):
        raise ValueError("must be a name of letters, digits, '.', '_' and '-' "
                         "(at most 253), starting with a letter or digit")
    return name


def names_list(value: Any) -> tuple[str, ...]:
    """`watch[].replicas`: a list of replica names, possibly empty (the primary only)."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ValueError(f"must be a list of replica names ([] for none), not {shown(value)}")
    return tuple(dict.fromkeys(host_name(item) for item in items))


def _folder(raw: dict[Any, Any], where: str, p: Problems, base: Path) -> Path:
    """The folder, created when asked; a problem when it cannot be watched."""
    folder = p.get_or(raw, where, "path", lambda v: local_path(base, v), base)
    try:
        if p.flag(raw, where, "create"):
            folder.mkdir(parents=True, exist_ok=True)
        if not folder.exists():
            p.errors.append(f"{where}path: {shown_path(folder)} does not exist (create it, or set "
                            "create: true)")
        elif not folder.is_dir():
            p.errors.append(f"{where}path: {shown_path(folder)} is not a directory")
        elif not os.access(folder, os.R_OK | os.X_OK):
            p.errors.append(f"{where}path: {shown_path(folder)} is not readable by this user")
    except OSError as exc:
        p.errors.append(f"{where}path: {shown_path(folder)}: {exc.strerror or exc}")
    return folder


def parse_watch(raw: Any, i: int, p: Problems, base: Path,
                defaults: dict[str, Any]) -> WatchConfig | None:
    """`watch[i]`; `defaults` are the top-level keys a folder inherits."""
    where = f"watch[{i}]."
    if not isinstance(raw, dict):
        p.errors.append(f"watch[{i}]: must be a mapping with at least a path, "
                        f"not {shown(raw)}")
        return None
    if raw.get("path") is None:
        p.errors.append(f"{where}path: missing (the folder to watch)")
        return None
    p.unknown(raw, "watch", where)
    folder = _folder(raw, where, p, base)
    after = p.choice(raw, where, "after_upload")
    move_to = p.optional(raw, where, "move_to", lambda v: local_path(base, v))
    if after == "move" and move_to is None:
        p.errors.append(f"{where}move_to: required when {where}after_upload is move")
    elif after == "move" and move_to is not None and move_to.is_relative_to(folder):
        p.errors.append(f"{where}move_to: {shown_path(move_to)} is inside the watched folder "
                        f"({where}path); choose a folder outside it")
    return WatchConfig(
        path=folder, label=p.get_or(raw, where, "label", text, folder.name or str(folder)),
        prefix=p.get_or(raw, where, "prefix", template, defaults["prefix"]),
        name=p.get_or(raw, where, "name", template, defaults["name"]),
        recursive=p.flag(raw, where, "recursive"),
        include=_some(p.get(raw, where, "include", globs), where, p),
        exclude=p.get(raw, where, "exclude", globs),
        settle_seconds=p.duration(raw, where, "settle_seconds", defaults["settle_seconds"]),
        dedupe=p.choice(raw, where, "dedupe"),
        date_source=p.choice(raw, where, "date_source", defaults["date_source"]),
        after_upload=after, move_to=move_to,
        observer=p.choice(raw, where, "observer"),
        poll_interval=p.duration(raw, where, "poll_interval"),
        group=p.optional(raw, where, "group", host_name),
        strip_metadata=p.choice(raw, where, "strip_metadata"),
        objects=parse_objects(raw, where, p, defaults["objects"], defaults["store"]),
        replicas=_replicas(raw, where, p, defaults.get("replicas", ())),
    )


def _replicas(raw: dict[Any, Any], where: str, p: Problems, configured: tuple[str, ...]
              ) -> tuple[str, ...]:
    """The replicas a folder names (every one, unless it says); each must be configured."""
    chosen = p.get_or(raw, where, "replicas", names_list, configured)
    for name in chosen:
        if name not in configured:
            known = ", ".join(configured) or "none are configured"
            p.errors.append(f"{where}replicas: {name!r} is not a replica (replicas: {known})")
    return tuple(name for name in chosen if name in configured)


def _some(include: tuple[str, ...], where: str, p: Problems) -> tuple[str, ...]:
    """An empty `include` would never let a file through: a mistake, not a wish."""
    if not include:
        p.errors.append(f"{where}include: empty: no file would ever be uploaded (leave it out "
                        "for the image and RAW types)")
    return include
