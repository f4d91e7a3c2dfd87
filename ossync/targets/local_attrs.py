"""What a `local:` target keeps of an object's options: user metadata (ossync's record
among it), tags, Cache-Control and Content-Disposition, in one extended attribute
(`user.ossync.object`, JSON) of the object's file — never a sidecar file, which a web
server serving the folder would hand out. Storage class, ACL and server-side encryption
mean nothing to a folder and are not kept. On a file system without user xattrs
(some FUSE and network mounts) nothing is kept, and that is said once in the log.

Also the folder's listing in key order, for `ossync ledger rebuild`.
"""

from __future__ import annotations

import bisect
import errno
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from ossync.core.objectopts import ObjectOptions

log = logging.getLogger("ossync.targets.local")
ATTR = "user.ossync.object"
_UNSUPPORTED = (errno.ENOTSUP, errno.EOPNOTSUPP, errno.EPERM, errno.E2BIG, errno.ENOSPC)
_warned = threading.Event()


def attributes(options: ObjectOptions) -> dict[str, Any]:
    """What the folder keeps of `options` (empty when nothing applies)."""
    doc: dict[str, Any] = {}
    if options.metadata:
        doc["metadata"] = dict(options.metadata)
    if options.tags:
        doc["tags"] = dict(options.tags)
    headers = {name: value for name, value in (("cache-control", options.cache_control),
               ("content-disposition", options.content_disposition)) if value}
    if headers:
        doc["headers"] = headers
    return doc


def write(path: Path, doc: dict[str, Any]) -> None:
    """Set (or with an empty `doc`, remove) the attribute; unsupported is logged once."""
    try:
        if doc:
            os.setxattr(path, ATTR, json.dumps(doc, ensure_ascii=False).encode())
        else:
            os.removexattr(path, ATTR)
    except OSError as exc:
        if exc.errno == errno.ENODATA:
            return
        if exc.errno not in _UNSUPPORTED:
            raise
        if not _warned.is_set():
            _warned.set()
            log.warning("the target folder keeps no extended attributes (%s): object "
                        "metadata and tags are not kept", exc.strerror)


def read(path: Path) -> dict[str, Any]:
    try:
        raw = os.getxattr(path, ATTR)
    except OSError as exc:
        if exc.errno in (errno.ENODATA, *_UNSUPPORTED):
            return {}
        raise
    try:
        doc = json.loads(raw)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


class Listing:
    """The folder's keys in order, walked once per prefix and paged from memory (a
    rebuild asks for page after page of one listing)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._keys: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def page(self, prefix: str, token: str | None, size: int) -> tuple[list[str], str | None]:
        with self._lock:
            if token is None or prefix not in self._keys:
                self._keys[prefix] = self._walk(prefix)
            keys = self._keys[prefix]
        start = bisect.bisect_right(keys, token) if token else 0
        chosen = keys[start:start + size]
        more = start + size < len(keys)
        return chosen, chosen[-1] if more and chosen else None

    def _walk(self, prefix: str) -> list[str]:
        found = []
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".ossync-")]
            rel = os.path.relpath(folder, self.root)
            for name in files:
                if name.startswith(".ossync-") and name.endswith(".tmp"):
                    continue  # a copy in progress
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    found.append(key)
        return sorted(found)
