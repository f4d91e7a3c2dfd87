"""File paths as the shell gave them, in the OS form the ledger takes.

Bytes that are not UTF-8 arrive in `sys.argv` as surrogates and stay so: they are the
file's real name. A path copied from a log line or a table is the printable form
(`cam\\xff.jpg`); when nothing is recorded under the path as given and it holds a
backslash, its OS form (`os_path`) is the other candidate.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

from ossync.core.textforms import os_path

_T = TypeVar("_T")


def absolute(path: str) -> str:
    """Relative to the working folder, `~` expanded; the name itself untouched."""
    return os.path.abspath(os.path.expanduser(path))


def spellings(arg: str) -> list[str]:
    """The argument as given, then (when it holds a backslash) its OS form."""
    readings = [arg]
    if "\\" in arg and os_path(arg) != arg:
        readings.append(os_path(arg))
    return readings


def first_found(arg: str, look: Callable[[str], _T | None]) -> tuple[str, _T | None]:
    """`look` at each absolute spelling of `arg`; the first that finds, or (as given, None)."""
    for reading in spellings(arg):
        found = look(absolute(reading))
        if found:
            return absolute(reading), found
    return absolute(arg), None


def on_disk(arg: str) -> bool:
    return any(os.path.lexists(reading) for reading in spellings(arg))


def existing(arg: str) -> str:
    """The spelling of `arg` that names a file on disk (as given when none does)."""
    readings = spellings(arg)
    if len(readings) == 1:  # nothing to choose between: no look on disk
        return arg
    for reading in readings:
        if os.path.lexists(reading):
            return reading
    return arg
