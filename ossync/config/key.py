"""What one config key is: where it lives, what it takes, its default and bounds, and
whether a SIGHUP applies it. One `Key` per key is the single source the parser, the
reload plan, `config.sample.yaml` and `docs/configuration.md` all read, so a key cannot
be added in one place and forgotten in another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from ossync.core.units import format_rate

Reload = Literal["live", "restart"]
LIVE: Reload = "live"  # applied by SIGHUP (systemctl reload ossync)
RESTART: Reload = "restart"  # read at start only
Kind = Literal["section", "list", "text", "name", "path", "url", "command", "argv",
               "template", "globs", "names", "boolean", "choice", "choices", "whole",
               "number", "duration", "size", "rate", "mapping"]
NUMERIC: frozenset[str] = frozenset({"whole", "number", "duration", "size", "rate"})
NOUN = {"whole": "a whole number", "number": "a number", "duration": "a duration",
        "size": "a size", "rate": "a rate"}
_SECONDS = (("d", 86400), ("h", 3600), ("m", 60))
_BINARY = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))
_DECIMAL = (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))


@dataclass(frozen=True)
class Key:
    """One key. `default` is the YAML value used when the key is absent (None: none, or
    computed, as `default_text` says); `low`/`high` bound every numeric kind."""

    path: str  # `workers`, `oss.endpoint`, `watch[].path`
    kind: Kind
    text: str  # one line: what it does, and why its bounds are what they are
    default: object = None
    reload: Reload = RESTART
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    default_text: str = ""  # how a computed default reads ("the machine's host name")
    bounds_note: str = ""  # what the bounds leave to a relation ("5MiB on S3")
    example: object = None  # what the sample shows when it is not the default
    commented: bool = False  # the sample shows the key commented out
    note: str = ""  # more sample-only comment lines (examples, the order of sources)
    secret: bool = False  # never recorded or shown as it is

    @property
    def section(self) -> str:
        """`` for a top-level key, else `oss`, `s3`, `local`, `http`, `watch` or
        `webhooks`."""
        head, dot, _ = self.path.partition(".")
        return head.removesuffix("[]") if dot else ""

    @property
    def name(self) -> str:
        return self.path.rpartition(".")[2]

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC

    def show(self, value: float) -> str:
        """A number of this key's kind as a person writes it: `5m`, `64MiB`, `20 MB/s`."""
        if self.kind == "duration":
            return format_seconds(value)
        if self.kind == "size":
            return format_size(int(value))
        if self.kind == "rate":
            return format_rate(value)
        return f"{value:g}" if isinstance(value, float) else str(value)

    @property
    def bounds(self) -> str:
        """`5s to 1d` (and the note), or `` for a key that is not a number."""
        if self.low is None or self.high is None:
            return ""
        text = f"{self.show(self.low)} to {self.show(self.high)}"
        return f"{text} ({self.bounds_note})" if self.bounds_note else text

    @property
    def default_shown(self) -> str:
        """The default as the reference prints it."""
        if self.default_text:
            return self.default_text
        if self.default is None:
            return "none"
        if isinstance(self.default, bool):
            return "true" if self.default else "false"
        if isinstance(self.default, (list, tuple)):
            return ", ".join(map(str, self.default))
        return str(self.default)


def format_seconds(seconds: float) -> str:
    """`15m`, `7d`, `90s`, `0.1s`: the shortest exact form, days at most (never weeks)."""
    if not math.isfinite(seconds):
        return str(seconds)
    for unit, step in _SECONDS:
        if seconds >= step and seconds % step == 0:
            return f"{int(seconds // step)}{unit}"
    return f"{seconds:g}s"


def format_size(size: int) -> str:
    """`5GiB`, `100KiB`, `20MB`: the largest unit that holds `size` exactly, else bytes."""
    for unit, step in sorted((*_BINARY, *_DECIMAL), key=lambda u: -u[1]):
        if size >= step and size % step == 0:
            return f"{size // step}{unit}"
    return f"{size} byte" if size == 1 else f"{size} bytes"
