"""Which paths are candidates: include globs, exclude globs, and never hidden or temp names."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence


def wanted(relpath: str, include: Sequence[str], exclude: Sequence[str]) -> bool:
    """`relpath` is `/`-separated under the watch folder.

    Hidden files and anything inside a hidden folder are never candidates:
    writers hide their temporaries there (`.name.part`, ProFTPD's `.in.name.`,
    rsync's `.name.XXXXXX`, macOS `._name`). Globs match the file name, case-blind.
    """
    parts = relpath.split("/")
    if any(p.startswith(".") for p in parts):
        return False
    name = parts[-1].lower()
    if any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in exclude):
        return False
    return any(fnmatch.fnmatchcase(name, pattern.lower()) for pattern in include)


def dir_wanted(relpath: str) -> bool:
    """Whether to descend into a folder during a scan (hidden folders are skipped)."""
    return not any(p.startswith(".") for p in relpath.split("/") if p)
