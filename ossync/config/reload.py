"""What a SIGHUP changes: the settings that differ between the running config and the
new one, split by the schema into those the daemon applies now and those that wait for
a restart, so it can say `changed, needs a restart: workers, oss.bucket`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from ossync.config.key import LIVE
from ossync.config.schema import KEYS, LISTS, normal, reload_class
from ossync.config.settings import Config

_SECTIONS = ("oss", "s3", "local", "http", "uploads")  # a section that comes or goes: one change
_MISSING = object()
_ORDER = {key.path: i for i, key in enumerate(KEYS)}


@dataclass(frozen=True)
class ReloadPlan:
    """Changed key paths (`watch[0].prefix`, `oss.bucket`, `workers`), in the order of
    the schema (that of config.sample.yaml)."""

    live: tuple[str, ...] = ()  # applied by the reload
    restart: tuple[str, ...] = ()  # take effect at the next start

    def __bool__(self) -> bool:
        return bool(self.live or self.restart)


def reload_plan(old: Config, new: Config) -> ReloadPlan:
    """The changes from `old` to `new`, each named once and classed by the schema."""
    changed = changed_paths(old.settings, new.settings)
    return ReloadPlan(tuple(p for p in changed if reload_class(p) == LIVE),
                      tuple(p for p in changed if reload_class(p) != LIVE))


def changed_paths(old: Mapping[str, object], new: Mapping[str, object]) -> list[str]:
    """Paths whose value differs; a section or list present on one side only is one path
    (`s3`, `http`, `watch`, `webhooks`)."""
    whole = [name for name in (*_SECTIONS, *LISTS)
             if _members(old, name) != _members(new, name)]
    changed: list[str] = []
    for path in [*old, *(p for p in new if p not in old)]:
        owner = next((name for name in whole if _in(path, name)), None)
        if owner is not None:
            changed.append(owner)
        elif old.get(path, _MISSING) != new.get(path, _MISSING):
            changed.append(path)
    return sorted(dict.fromkeys(changed), key=lambda path: (_ORDER[normal(path)], path))


def _in(path: str, name: str) -> bool:
    return path.startswith(f"{name}.") or path.startswith(f"{name}[")


def _members(settings: Mapping[str, object], name: str) -> frozenset[str]:
    """Which entries of a section or list exist: the section itself, or list indexes."""
    if name not in LISTS:
        return frozenset({name} if any(_in(p, name) for p in settings) else ())
    return frozenset(p.partition(".")[0] for p in settings if _in(p, name))


# The Config fields a reload changes: every other one keeps its value from the start.
LIVE_FIELDS = ("watch", "prefix", "name", "date_source", "settle_seconds", "timezone",
               "scan_interval", "max_file_size", "retry_initial_delay", "retry_max_delay",
               "max_bandwidth", "objects")


def applied(running: Config, new: Config) -> Config:
    """The config a daemon runs after a reload: the live keys from `new`, everything else
    as it started (so a changed bucket is never recorded while the old one is used, and
    the next reload still names it as waiting for a restart)."""
    settings = {path: value for path, value in running.settings.items()
                if reload_class(path) != LIVE}
    settings.update((path, value) for path, value in new.settings.items()
                    if reload_class(path) == LIVE)
    return dataclasses.replace(running, settings=settings, warnings=new.warnings,
                               **{name: getattr(new, name) for name in LIVE_FIELDS})
