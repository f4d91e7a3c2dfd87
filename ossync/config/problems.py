"""The collector every section parser reads its keys through: one `path: reason` line per
problem, `${VAR}` expansion, defaults and bounds from the schema, unknown keys refused
with a suggestion, and every setting recorded for the reload plan.

A key the schema does not list cannot be read (KeyError): adding a key means adding its
`Key` first, so the reference, the sample and the reload plan know it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import ossync.config.checks as checks
from ossync.config.checks import shown
from ossync.config.schema import names, spec, suggestion

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_T = TypeVar("_T")
_D = TypeVar("_D")


CONVERSION_ERRORS = (ValueError, TypeError, OverflowError, OSError)
MAX_REASON = 300


class Problems:
    """Collects `path: reason` lines (errors, warnings) and the settings read."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.errors: list[str] = []  # read them with reported(): one per key
        self.warnings: list[str] = []
        self.env = env
        self.strict = True  # unknown keys are errors (`unknown_keys: error`)
        self.settings: dict[str, object] = {}

    def reported(self) -> list[str]:
        """The errors, the first one per key path only: a key whose value was refused is
        not blamed again for the default that stood in for it."""
        seen: set[str] = set()
        kept = []
        for problem in self.errors:
            key = problem.split(": ", 1)[0]
            if key not in seen:
                seen.add(key)
                kept.append(problem)
        return kept

    def get(self, raw: Mapping[Any, Any], where: str, name: str,
            convert: Callable[[Any], _T]) -> _T:
        """`raw[name]` through `convert`; absent (or null), the schema's default through
        `convert`. A problem is noted and the default returned."""
        key = spec(where + name)
        assert key.default is not None, f"{key.path}: no default in the schema"
        return self.get_or(raw, where, name, convert, convert(key.default))

    def get_or(self, raw: Mapping[Any, Any], where: str, name: str,
               convert: Callable[[Any], _T], default: _T) -> _T:
        """Like `get`, with a default of the caller's (one computed from other keys)."""
        value = self._read(raw, where, name, convert, default)
        self.settings[where + name] = _digest(value) if spec(where + name).secret else value
        return value

    def optional(self, raw: Mapping[Any, Any], where: str, name: str,
                 convert: Callable[[Any], _T]) -> _T | None:
        """Like `get`, with None when the key is absent."""
        return self.get_or(raw, where, name, convert, None)

    def _read(self, raw: Mapping[Any, Any], where: str, name: str,
              convert: Callable[[Any], _T], default: _D) -> _T | _D:
        if raw.get(name) is None:
            return default
        try:
            value = self.expand(raw[name], where + name)
        except ValueError as exc:
            self.errors.append(f"{where}{name}: {exc}")
            return default
        try:
            return convert(value)
        except CONVERSION_ERRORS as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            if spec(where + name).secret:
                reason = "must be text without control characters (the value is not shown)"
            self.errors.append(f"{where}{name}: {_short(str(reason))}")
            return default

    def duration(self, raw: Mapping[Any, Any], where: str, name: str,
                 default: float | None = None, why: str = "") -> float:
        convert = checks.duration_of(spec(where + name), why)
        if default is None:
            return self.get(raw, where, name, convert)
        return self.get_or(raw, where, name, convert, default)

    def size(self, raw: Mapping[Any, Any], where: str, name: str,
             default: int | None = None) -> int:
        convert = checks.size_of(spec(where + name))
        if default is None:
            return self.get(raw, where, name, convert)
        return self.get_or(raw, where, name, convert, default)

    def whole(self, raw: Mapping[Any, Any], where: str, name: str) -> int:
        return self.get(raw, where, name, checks.whole_of(spec(where + name)))

    def number(self, raw: Mapping[Any, Any], where: str, name: str) -> float:
        return self.get(raw, where, name, checks.number_of(spec(where + name)))

    def flag(self, raw: Mapping[Any, Any], where: str, name: str) -> bool:
        return self.get(raw, where, name, checks.boolean)

    def choice(self, raw: Mapping[Any, Any], where: str, name: str,
               default: str | None = None) -> str:
        convert = checks.choice_of(*spec(where + name).choices)
        if default is None:
            return self.get(raw, where, name, convert)
        return self.get_or(raw, where, name, convert, default)

    def expand(self, value: Any, where: str) -> Any:
        """`${VAR}` in a string (or a mapping's values) → the variable's value; an unset
        one is a problem."""
        if isinstance(value, dict):
            return {k: self.expand(v, where) for k, v in value.items()}
        if not isinstance(value, str):
            return value

        def sub(match: re.Match[str]) -> str:
            if match.group(1) not in self.env:
                raise ValueError(f"environment variable {match.group(1)} is not set")
            return self.env[match.group(1)]

        return _VAR.sub(sub, value)

    def unknown(self, raw: Mapping[Any, Any], section: str, where: str) -> None:
        """Keys `section` does not know: errors, or warnings with `unknown_keys: warn`."""
        known = names(section)
        for name in sorted((n for n in raw if n not in known), key=_label):
            hint = suggestion(name, section) if isinstance(name, str) else (
                "; a key must be a name (quote it)")
            if self.strict:
                self.errors.append(f"{where}{_label(name)}: unknown key{hint}")
            else:
                self.warnings.append(f"{where}{_label(name)}: unknown key, ignored{hint}")


def _short(reason: str) -> str:
    """A reason that quotes a long value (a template, a command) cut to fit a line."""
    return reason if len(reason) <= MAX_REASON else f"{reason[:MAX_REASON - 41]}…{reason[-40:]}"


def _label(name: object) -> str:
    """A key as a problem line shows it: as written when it is a plain name."""
    if isinstance(name, str) and name.isprintable() and len(name) <= 60:
        return name
    return shown(name)


def _digest(value: object) -> object:
    """What the settings keep of a secret: enough to see that it changed."""
    if value is None:
        return None
    return "sha256:" + hashlib.sha256(str(value).encode("utf-8", "replace")).hexdigest()[:16]
