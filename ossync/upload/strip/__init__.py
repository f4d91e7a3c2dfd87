"""Metadata stripping: a copy of an image without its location (`location`), without
owner and device identity as well (`private`), or without any metadata but its
orientation and colour profile (`all`), the image data byte for byte the original's.

`strip_file` plans the edits with the format's stripper, then writes the copy to a
private temp file (0600, in a 0700 directory of this process under the temp dir, never
the drop folder) in one pass that also re-hashes the original: if those bytes are not
the ones the worker hashed, the file changed and nothing is sent. A format or a file
that cannot be cleaned safely raises `CannotStrip`; the caller must not send it.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import io
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ossync.core.chunks import CHUNK
from ossync.core.crc64 import Crc64
from ossync.upload.strip.base import LEVELS, CannotStrip, Edit, Plan, Read, file_reader
from ossync.upload.strip.heif import plan_heif
from ossync.upload.strip.jpeg import plan_jpeg
from ossync.upload.strip.png import plan_png
from ossync.upload.strip.tiff import plan_tiff
from ossync.upload.strip.webp import plan_webp

__all__ = ["LEVELS", "CannotStrip", "Changed", "Stripped", "plan_for", "strip_file"]


def _nothing(read: Read, size: int, level: str) -> Plan:
    """BMP holds no metadata block (an ICC profile in the header is colour)."""
    del read, size, level
    return Plan()


Planner = Callable[[Read, int, str], Plan]
PLANNERS: dict[str, Planner] = {
    "image/jpeg": plan_jpeg, "image/png": plan_png, "image/webp": plan_webp,
    "image/tiff": plan_tiff, "image/heic": plan_heif, "image/heif": plan_heif,
    "image/avif": plan_heif, "image/bmp": _nothing,
}
_dir_lock = threading.Lock()
_private_dir: str | None = None


class Changed(Exception):
    """The original's bytes changed between hashing and stripping."""


@dataclass(frozen=True)
class Stripped:
    """The cleaned copy, and what it is: the bytes to send instead of the file."""

    path: Path
    sha256: str
    size: int
    crc64: int
    removed: tuple[str, ...]

    def discard(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def private_dir() -> str:
    """This process's own 0700 directory for cleaned copies; removed at exit."""
    global _private_dir
    with _dir_lock:
        if _private_dir is None or not os.path.isdir(_private_dir):
            _private_dir = tempfile.mkdtemp(prefix="ossync-strip-")
            atexit.register(shutil.rmtree, _private_dir, True)
        return _private_dir


def plan_for(fh: io.BufferedReader, content_type: str, level: str) -> Plan:
    """The edits that clean the open file at `level` (CannotStrip if none can)."""
    planner = PLANNERS.get(content_type)
    if planner is None:
        raise CannotStrip(f"ossync does not strip {content_type} files (it strips JPEG, "
                          "HEIC/HEIF/AVIF, PNG, TIFF and WebP); set strip_metadata: none "
                          "for a folder of them")
    read, size = file_reader(fh)
    try:
        return planner(read, size, level)
    except (struct.error, IndexError, ValueError, OverflowError) as exc:
        raise CannotStrip(f"its {content_type} structure is damaged ({exc})") from None


def strip_file(path: Path, content_type: str, level: str, *, sha256: str) -> Stripped | None:
    """A cleaned copy of `path`, or None when there is nothing to remove (send the file).

    `sha256` is the original's hash as the worker read it; raises Changed if the bytes
    read now differ, CannotStrip if the file cannot be cleaned, OSError as it comes."""
    if level == "none":
        return None
    with path.open("rb") as fh:
        plan = plan_for(fh, content_type, level)
        if not plan.removed:
            return None
        edits = plan.sorted_edits()
        fd, name = tempfile.mkstemp(dir=private_dir(), suffix=path.suffix.lower()[:10])
        try:
            with os.fdopen(fd, "wb") as out:
                original, sent, size, crc = write_edited(fh, edits, out)
        except BaseException:
            os.unlink(name)
            raise
    if original != sha256:
        os.unlink(name)
        raise Changed(f"{path.name} changed while it was stripped")
    return Stripped(Path(name), sent, size, crc, tuple(plan.removed))


def write_edited(src: io.BufferedReader, edits: list[Edit], out: io.BufferedWriter
                 ) -> tuple[str, str, int, int]:
    """Stream the original through the edits into `out`; returns (SHA-256 of the original
    as read, SHA-256, size and CRC-64 of what was written)."""
    original, sent, crc = hashlib.sha256(), hashlib.sha256(), Crc64()
    written = 0

    def emit(data: bytes | memoryview) -> None:
        nonlocal written
        out.write(data)
        sent.update(data)
        crc.update(data)
        written += len(data)

    src.seek(0)
    pos = 0
    for edit in [*edits, Edit(1 << 62, 1 << 62)]:
        pos = _through(src, pos, edit.start, original, emit)
        if edit.start >= 1 << 62:
            break
        pos = _through(src, pos, edit.end, original, None)
        emit(edit.data)
    return original.hexdigest(), sent.hexdigest(), written, crc.value


def _through(src: io.BufferedReader, pos: int, stop: int, original: hashlib._Hash,
             emit: Callable[[bytes | memoryview], None] | None) -> int:
    """Read from `pos` up to `stop` (or the end), hashing; `emit` what is kept."""
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    while pos < stop:
        count = src.readinto(view[: min(CHUNK, stop - pos)])
        if not count:
            break
        original.update(view[:count])
        if emit is not None:
            emit(view[:count])
        pos += count
    return pos
