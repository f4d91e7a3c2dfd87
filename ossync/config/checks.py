"""The checks every config field goes through: one collector of `path: reason` problems,
`${VAR}` expansion, and small converters that raise ValueError with a readable reason."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from ossync.core.keys import template_problem

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_T = TypeVar("_T")


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


def _choice_int(*allowed: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        if value not in allowed or isinstance(value, bool):
            raise ValueError(f"must be one of {', '.join(map(str, allowed))}, not {value!r}")
        return int(value)
    return convert


def _local_path(base: Path, value: object) -> Path:
    """Absolute and normalised (`~` expanded, `..` folded), relative to the config's folder.

    Paths in the ledger are compared as text, so `/srv/drop/../drop/x.jpg` must never
    be stored for `/srv/drop/x.jpg`. Symlinks are kept as written.
    """
    return Path(os.path.abspath(base / os.path.expanduser(str(value))))
