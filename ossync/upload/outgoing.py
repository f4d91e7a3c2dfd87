"""What a worker sends for a file: the file itself, or a copy without its metadata.

`outgoing()` applies the folder's `strip_metadata`. The copy lives in a private temp
file that `Outgoing.discard()` removes; dedupe, the key and the ledger's `sha256`
stay the original's, and the integrity check runs on the bytes sent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ossync.config import WatchConfig
from ossync.ledger import Content, Ledger
from ossync.upload.prepare import FileFacts
from ossync.upload.strip import CannotStrip, Changed, Stripped, strip_file

log = logging.getLogger("ossync.upload.outgoing")
HELD = "cannot strip metadata from "  # how a file held by strip_metadata is failed

__all__ = ["HELD", "CannotStrip", "Changed", "Outgoing", "outgoing", "release_held"]


@dataclass(frozen=True)
class Outgoing:
    path: Path
    sha256: str
    size: int
    crc64: int
    content: Content | None  # None: stripping is off, the bytes are the file's
    copy: Stripped | None = None

    def discard(self) -> None:
        if self.copy is not None:
            self.copy.discard()


def outgoing(facts: FileFacts, folder: WatchConfig) -> Outgoing:
    """The bytes to send for `facts` under the folder's strip level.

    Raises CannotStrip (the file must wait, not go as it is), Changed (it changed since
    it was hashed), OSError."""
    level = folder.strip_metadata
    if level == "none":
        return Outgoing(facts.path, facts.sha256, facts.size, facts.crc64, None)
    copy = strip_file(facts.path, facts.media.content_type, level, sha256=facts.sha256)
    if copy is None:
        content = Content.unchanged(facts.sha256, facts.size, facts.crc64, level)
        return Outgoing(facts.path, facts.sha256, facts.size, facts.crc64, content)
    content = Content(facts.sha256, facts.size, facts.crc64, copy.sha256, copy.size,
                      copy.crc64, level, "; ".join(copy.removed))
    log.debug("%s: stripped %s (%d -> %d bytes)", facts.name, content.stripped, facts.size,
              copy.size)
    return Outgoing(copy.path, copy.sha256, copy.size, copy.crc64, content, copy)


def release_held(ledger: Ledger, folders: dict[str, WatchConfig],
                 before: dict[str, WatchConfig] | None = None) -> int:
    """Queue again the files this host failed because they could not be stripped: all of
    them at start (ossync or the config may have changed while it was down), those of
    folders whose `strip_metadata` changed on a reload. Returns how many."""
    paths = []
    for item in ledger.iter_items(state="failed"):
        if item.host != ledger.host or not (item.last_error or "").startswith(HELD):
            continue
        now, then = folders.get(item.folder), (before or {}).get(item.folder)
        if before is None or now is None or then is None or (
            now.strip_metadata != then.strip_metadata
        ):
            paths.append(item.path)
    count = ledger.retry_failed(paths) if paths else 0
    if count:
        log.info("%d file(s) held by strip_metadata queued again", count)
    return count
