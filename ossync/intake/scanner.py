"""From a path (or a whole folder) to queue sightings, by stat() alone.

The catch-up scan at start, after an overflow and every `scan_interval` walks
each folder and notes only what the ledger does not already know with the
same size and mtime: 100k uploaded files cost 100k stat()s and index look-ups,
and no file is opened.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ossync.config import WatchConfig
from ossync.intake.filters import dir_wanted, wanted
from ossync.ledger import Intake, Sighting

log = logging.getLogger(__name__)
BATCH = 500


def relpath_of(folder: WatchConfig, path: str) -> str | None:
    """`/`-separated path under the folder, or None when it is not under it."""
    root = str(folder.path).rstrip("/") + "/"
    if not path.startswith(root):
        return None
    rel = path[len(root):]
    if not folder.recursive and "/" in rel:
        return None
    return rel


def sight(folder: WatchConfig, path: str, st: os.stat_result | None = None) -> Sighting | None:
    """A sighting when `path` is a wanted regular file (symlinks, FIFOs, devices are not)."""
    rel = relpath_of(folder, path)
    if not rel or not wanted(rel, folder.include, folder.exclude):
        return None
    if st is None:
        try:
            st = os.lstat(path)
        except OSError:
            return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return Sighting(path, folder.label, st.st_size, st.st_mtime_ns, folder.settle_seconds,
                    folder.group)


def walk(folder: WatchConfig, start: Path | None = None) -> Iterator[tuple[str, os.stat_result]]:
    """Regular files below `start` (default: the folder), without following symlinks."""
    stack = [str(start or folder.path)]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            rel = relpath_of(folder, entry.path)
                            if folder.recursive and rel and dir_wanted(rel):
                                stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            yield entry.path, entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
        except OSError as exc:
            log.warning("cannot scan %s: %s", current, exc.strerror or exc)


def scan(queue: Intake, folder: WatchConfig, start: Path | None = None) -> tuple[int, int]:
    """Note every new or changed file; returns (files seen, files queued)."""
    seen = queued = 0
    batch: list[Sighting] = []
    for path, st in walk(folder, start):
        found = sight(folder, path, st)
        if found is None:
            continue
        seen += 1
        if not queue.known_unchanged(found.path, found.size, found.mtime_ns):
            batch.append(found)
        if len(batch) >= BATCH:
            queued += queue.note(batch)
            batch = []
    if batch:
        queued += queue.note(batch)
    return seen, queued
