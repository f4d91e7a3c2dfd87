"""`after_upload: delete|move`: the local file goes only when every destination that
should hold it has it, verified — the primary and each replica the folder copies to.

Whichever worker finishes last (the primary's or a replica's) finds the set complete in
the ledger and acts; the others leave the file where it is. The directory entry goes only
while it still names the very file that was sent, unchanged.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Protocol

from ossync.config import WatchConfig
from ossync.core.beneath import PinnedFile

log = logging.getLogger("ossync.upload.worker")
class Copies(Protocol):
    """What the ledger tells about a file's copies (`Fanout`, `CopyQueue`)."""

    def copies_complete(self, file_id: int, sha256: str, destinations: Collection[str]
                        ) -> bool: ...


_ACTING = threading.Lock()  # one worker at a time decides and acts (the last two may race)


def after_upload(folder: WatchConfig, path: str, pinned: PinnedFile, *, size: int,
                 mtime_ns: int, sha256: str, file_id: int, fanout: Copies | None) -> None:
    """Delete or move the local file once the primary and every replica of its folder
    hold its content (without a ledger to ask, `fanout` None, a folder with replicas keeps
    its files)."""
    if folder.after_upload == "keep":
        return
    with _ACTING:
        if folder.replicas and (fanout is None or not fanout.copies_complete(
                file_id, sha256, folder.replicas)):
            log.debug("%s stays until every copy is stored", path)
            return
        _act(folder, path, pinned, size, mtime_ns, sha256)


def _act(folder: WatchConfig, path: str, pinned: PinnedFile, size: int, mtime_ns: int,
         sha256: str) -> None:
    try:
        if (pinned.now().size, pinned.now().mtime_ns) != (size, mtime_ns):
            log.warning("%s changed after upload; left in place", path)
            return
        if folder.after_upload == "delete":
            done = pinned.unlink()
        elif folder.move_to is not None:
            done = _move(folder.move_to, folder.relpath(path), sha256, pinned)
        else:
            return
        if not done and os.path.lexists(path):
            log.warning("%s is no longer the file that was uploaded; left in place", path)
    except OSError as exc:
        log.error("after upload, could not %s %s: %s", folder.after_upload, path,
                  exc.strerror or exc)


def _move(move_to: Path, rel: str, sha256: str, pinned: PinnedFile) -> bool:
    """Into `move_to` under the same relative path; a name already taken there gets the
    content hash added, and nothing is ever overwritten."""
    dest = move_to / rel
    try:
        return pinned.move(dest.parent, dest.name)
    except FileExistsError:
        stem, ext = os.path.splitext(dest.name)
        return pinned.move(dest.parent, f"{stem}-{sha256[:8]}{ext}")
